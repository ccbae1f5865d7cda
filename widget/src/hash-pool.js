// The page's hashing Worker (resumable-hash-worker.js) and the jobs it runs, and hashFile().
// Contract: hashPool.start(assetBase, file, chunkSize, forceChunkSize, handler) returns a job id;
// handler gets the Worker's messages for that job ('chunks' batches, then 'done' or 'error', after
// which it is called no more; an 'error' with `unavailable` means that nothing can be hashed on this
// page: the Worker or the wasm core did not load); control('pause' | 'resume' | 'cancel', job) steers it, and after
// 'cancel' the handler is never called again. The Worker is created on first use, and again after
// it failed to start (every job then got an 'error').
import { assign, DEFAULT_OPTIONS, resolveAssetBase } from './options.js';

// One Worker per page hashes files one after another (see resumable-hash-worker.js); each job
// reports chunk digests in batches, then the whole file's digest.
export const hashPool = {
  worker: null,
  handlers: {},
  nextJob: 1,
  start: function (assetBase, file, chunkSize, forceChunkSize, handler) {
    var worker = this.ensureWorker(assetBase);
    var job = this.nextJob++;
    this.handlers[job] = handler;
    worker.postMessage({ type: 'hash', job: job, file: file, chunkSize: chunkSize, forceChunkSize: forceChunkSize });
    return job;
  },
  control: function (type, job) {
    if (!job || !this.handlers[job]) return;
    if (type === 'cancel') delete this.handlers[job];
    this.worker.postMessage({ type: type, job: job });
  },
  ensureWorker: function (assetBase) {
    if (this.worker) return this.worker;
    var pool = this;
    var worker;
    try {
      worker = createWorker(assetBase);
    } catch (error) {
      // Refused at once (e.g. by the page's Content-Security-Policy): fail the job being started
      // and the next ones the same way, each as soon as its handler is registered.
      worker = failedWorker(pool, describe(error));
    }
    this.worker = worker;
    worker.onmessage = function (event) {
      releaseBlobUrl(worker);
      var message = event.data;
      var handler = pool.handlers[message.job];
      if (!handler) return;
      if (message.type === 'done' || message.type === 'error') delete pool.handlers[message.job];
      handler(message);
    };
    worker.onerror = function (event) {
      // The Worker script or the wasm core failed to load: nothing can be hashed on this page.
      event.preventDefault();
      releaseBlobUrl(worker);
      if (pool.worker !== worker) return;
      pool.worker = null;
      failAll(pool, event.message || 'the hashing worker did not start');
    };
    return worker;
  }
};

function describe(error) {
  return String(error && (error.message || error.name) || error);
}

function failAll(pool, detail) {
  var handlers = pool.handlers;
  pool.handlers = {};
  for (var job in handlers) handlers[job]({ type: 'error', job: Number(job), unavailable: true, message: detail });
}

// Browsers start Workers only from the page's own origin. When the widget's files come from
// another one (a page on www.example.com loading <script src="https://cdn.example.com/.../
// resumable-widget.js">), the Worker starts from a tiny same-origin Blob whose only code loads the
// real script with importScripts(), which may load classic scripts from anywhere; it also tells that
// script where its own folder is, since relative URLs inside a Blob's Worker mean nothing. The
// wasm core is then fetched from there with CORS (the server library serves the widget's files to
// any origin). Same-origin pages start the script directly, as before.
function createWorker(assetBase) {
  var scriptUrl = assetBase + 'resumable-hash-worker.js';
  var pageOrigin = globalThis.location ? globalThis.location.origin : null;
  if (new URL(scriptUrl).origin === pageOrigin) return new Worker(scriptUrl);
  var code = 'self.resumableAssetBase = ' + JSON.stringify(assetBase) + ';\nimportScripts(' + JSON.stringify(scriptUrl) + ');\n';
  var blobUrl = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
  var worker;
  try {
    worker = new Worker(blobUrl);
  } catch (error) {
    URL.revokeObjectURL(blobUrl);
    throw error;
  }
  // Kept until the Worker has surely loaded it: its first message or error (see ensureWorker).
  worker.resumableBlobUrl = blobUrl;
  return worker;
}

function releaseBlobUrl(worker) {
  if (!worker.resumableBlobUrl) return;
  URL.revokeObjectURL(worker.resumableBlobUrl);
  worker.resumableBlobUrl = null;
}

// Stands in for a Worker that could not be constructed: every job gets the construction error,
// asynchronously like a real Worker's, and the next job tries to start a Worker again.
function failedWorker(pool, detail) {
  var stand = {
    postMessage: function (message) {
      if (message.type !== 'hash') return;
      Promise.resolve().then(function () {
        if (pool.worker === stand) pool.worker = null;
        var handler = pool.handlers[message.job];
        if (!handler) return;
        delete pool.handlers[message.job];
        handler({ type: 'error', job: message.job, unavailable: true, message: detail });
      });
    }
  };
  return stand;
}

// Hashes a file without uploading it: {identifier, chunkCount, chunks: [{number, offset, size,
// digest}], fileDigest}. Useful on its own, and the same pipeline the uploads use.
export function hashFile(file, options) {
  options = assign({ chunkSize: DEFAULT_OPTIONS.chunkSize, forceChunkSize: false }, options);
  var base = resolveAssetBase(options.assetBase, options.endpoint);
  return new Promise(function (resolve, reject) {
    var result = { identifier: null, chunkCount: 0, chunks: [], fileDigest: null };
    hashPool.start(base, file, options.chunkSize, !!options.forceChunkSize, function (message) {
      if (message.type === 'chunks') {
        result.chunkCount = message.chunkCount;
        if (message.identifier) result.identifier = message.identifier;
        for (var i = 0; i < message.digests.length; i++) {
          result.chunks.push({ number: message.firstNumber + i, offset: message.spans[2 * i],
            size: message.spans[2 * i + 1], digest: message.digests[i] });
        }
        if (options.onProgress) options.onProgress(message.hashedBytes, file.size);
      } else if (message.type === 'done') {
        result.fileDigest = message.fileDigest;
        resolve(result);
      } else {
        reject(new Error(message.message));
      }
    });
  });
}
