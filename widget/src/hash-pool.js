// The page's hashing Worker (resumable-hash-worker.js) and the jobs it runs, and hashFile().
// Contract: hashPool.start(assetBase, file, chunkSize, forceChunkSize, handler) returns a job id;
// handler gets the Worker's messages for that job ('chunks' batches, then 'done' or 'error', after
// which it is called no more); control('pause' | 'resume' | 'cancel', job) steers it, and after
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
    this.worker = new Worker(assetBase + 'resumable-hash-worker.js');
    this.worker.onmessage = function (event) {
      var message = event.data;
      var handler = pool.handlers[message.job];
      if (!handler) return;
      if (message.type === 'done' || message.type === 'error') delete pool.handlers[message.job];
      handler(message);
    };
    this.worker.onerror = function (event) {
      // The Worker script or the wasm core failed to load: nothing can be hashed on this page.
      event.preventDefault();
      var handlers = pool.handlers;
      pool.handlers = {};
      pool.worker = null;
      var detail = event.message || 'the hashing worker did not start';
      for (var job in handlers) handlers[job]({ type: 'error', job: Number(job), message: detail });
    };
    return this.worker;
  }
};

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
