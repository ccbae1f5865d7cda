// The page's hashing Workers (resumable-hash-worker.js), the jobs they run, and hashFile().
// Contract: hashPool.start(assetBase, file, chunkSize, forceChunkSize, handler) returns a job id;
// handler gets that job's messages: 'chunks' batches in chunk order ({chunkCount, firstNumber,
// digests, spans, hashedBytes, identifier?}), then 'done' ({fileDigest}) or 'error', after which it
// is called no more; an 'error' with `unavailable` means that nothing can be hashed on this page:
// a Worker or the wasm core did not load. control('pause' | 'resume' | 'cancel', job) steers it;
// after 'cancel' the handler is never called again. Workers are created on first use (up to
// poolSize()), and again after they failed to start (every job then got an 'error').
import { assign, globalConfig, DEFAULT_OPTIONS, resolveAssetBase } from './options.js';

// Leaves are independent, so a file is cut into units of whole chunks, about this many bytes each,
// that the Workers hash in parallel. Big enough that opening a unit's stream costs little next to
// hashing it, small enough that two Workers share even a small file and that a pause or cancel
// takes effect soon (a unit being hashed is finished, or abandoned on cancel).
const UNIT_BYTES = 8 * 1048576;
// One Worker per core up to this many: more would mostly compete with the browser reading the file
// and with the page's uploads.
const MAX_AUTO_WORKERS = 4;
const MAX_WORKERS = 16;

// How many Workers hash: configure({hashWorkers: n}) if set, else one per core (1..MAX_AUTO_WORKERS).
export function poolSize() {
  var wanted = Number(globalConfig.hashWorkers);
  if (wanted >= 1) return Math.min(MAX_WORKERS, Math.floor(wanted));
  var cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency;
  return Math.max(1, Math.min(MAX_AUTO_WORKERS, cores || 1));
}

// Jobs are served in arrival order: the Workers take units from the first job that is neither paused
// nor waiting for its plan, so a paused file lets the next proceed, and resuming it takes its place
// back. A unit result is held until the units before it arrived, so batches come in chunk order.
export const hashPool = {
  workers: [],   // {worker, busy: {job, unit} | null}
  jobs: [],      // in arrival order
  handlers: {},
  nextJob: 1,
  assetBase: null,
  start: function (assetBase, file, chunkSize, forceChunkSize, handler) {
    var id = this.nextJob++;
    this.handlers[id] = handler;
    if (!this.assetBase || this.workers.length === 0) this.assetBase = assetBase;
    this.jobs.push({ id: id, file: file, chunkSize: chunkSize, forceChunkSize: forceChunkSize, paused: false,
      plan: null, planAsked: false, unitCount: 0, chunksPerUnit: Math.max(1, Math.floor(UNIT_BYTES / chunkSize)),
      nextUnit: 0, held: {}, nextDelivery: 0, hashedBytes: 0, leaves: null, rootAsked: false });
    this.pump();
    return id;
  },
  control: function (type, id) {
    var job = this.findJob(id);
    if (!job) return;
    if (type === 'pause') job.paused = true;
    if (type === 'resume') job.paused = false;
    if (type === 'cancel') this.finish(job);
    this.pump();
  },
  findJob: function (id) {
    for (var i = 0; i < this.jobs.length; i++) if (this.jobs[i].id === id) return this.jobs[i];
    return null;
  },
  // Ends a job: no more messages to its handler; Workers drop its units.
  finish: function (job) {
    var index = this.jobs.indexOf(job);
    if (index < 0) return;
    this.jobs.splice(index, 1);
    delete this.handlers[job.id];
    for (var i = 0; i < this.workers.length; i++) {
      var busy = this.workers[i].busy;
      if (busy && busy.job === job.id) this.workers[i].worker.postMessage({ type: 'cancel', job: job.id });
    }
  },
  deliver: function (job, message) {
    var handler = this.handlers[job.id];
    if (message.type === 'done' || message.type === 'error') this.finish(job);
    if (handler) handler(message);
  },

  // Gives every idle Worker a unit, starting Workers as long as there is work for them.
  pump: function () {
    var size = poolSize();
    for (var i = 0; i < this.jobs.length; i++) {
      var job = this.jobs[i];
      if (!job.planAsked) {
        var planner = this.anyWorker();
        if (!planner) return;
        job.planAsked = true;
        planner.worker.postMessage({ type: 'plan', job: job.id, size: job.file.size, chunkSize: job.chunkSize,
          forceChunkSize: job.forceChunkSize });
      }
    }
    for (;;) {
      var next = this.nextWork();
      if (!next) break;
      var idle = this.idleWorker(size);
      if (!idle) break;
      this.dispatch(idle, next);
    }
    // Workers beyond a smaller configured size end once idle.
    for (var w = this.workers.length - 1; w >= size; w--) {
      if (this.workers[w].busy) continue;
      this.workers[w].worker.terminate();
      this.workers.splice(w, 1);
    }
  },
  nextWork: function () {
    for (var i = 0; i < this.jobs.length; i++) {
      var job = this.jobs[i];
      if (!job.paused && job.plan && job.nextUnit < job.unitCount) return job;
    }
    return null;
  },
  idleWorker: function (size) {
    for (var i = 0; i < this.workers.length && i < size; i++) if (!this.workers[i].busy) return this.workers[i];
    return this.workers.length < size ? this.addWorker() : null;
  },
  anyWorker: function () {
    return this.workers.length > 0 ? this.workers[0] : this.addWorker();
  },
  dispatch: function (entry, job) {
    var unit = job.nextUnit++;
    var first = unit * job.chunksPerUnit + 1;
    entry.busy = { job: job.id, unit: unit };
    entry.worker.postMessage({ type: 'unit', job: job.id, unit: unit, file: job.file, chunkSize: job.chunkSize,
      forceChunkSize: job.forceChunkSize, chunkCount: job.plan.chunkCount,
      firstNumber: first, lastNumber: Math.min(job.plan.chunkCount, first + job.chunksPerUnit - 1) });
  },

  addWorker: function () {
    var pool = this;
    var worker;
    try {
      worker = createWorker(this.assetBase);
    } catch (error) {
      // Refused at once (e.g. by the page's Content-Security-Policy): fail the jobs waiting now,
      // asynchronously like a real Worker's failure; the next job tries to start a Worker again.
      var detail = describe(error);
      Promise.resolve().then(function () { pool.failAll(detail); });
      return null;
    }
    var entry = { worker: worker, busy: null };
    this.workers.push(entry);
    worker.onmessage = function (event) {
      releaseBlobUrl(worker);
      pool.onWorkerMessage(entry, event.data);
    };
    worker.onerror = function (event) {
      // The Worker script or the wasm core failed to load: nothing can be hashed on this page.
      event.preventDefault();
      releaseBlobUrl(worker);
      if (pool.workers.indexOf(entry) < 0) return;
      pool.failAll(event.message || 'the hashing worker did not start');
    };
    return entry;
  },
  // Ends every Worker and fails every job: the next job starts Workers afresh.
  failAll: function (detail) {
    var jobs = this.jobs;
    var handlers = this.handlers;
    for (var i = 0; i < this.workers.length; i++) this.workers[i].worker.terminate();
    this.workers = [];
    this.jobs = [];
    this.handlers = {};
    for (var j = 0; j < jobs.length; j++) {
      var handler = handlers[jobs[j].id];
      if (handler) handler({ type: 'error', job: jobs[j].id, unavailable: true, message: detail });
    }
  },

  onWorkerMessage: function (entry, message) {
    var endsUnit = message.type === 'unit' || message.type === 'cancelled' || (message.type === 'error' && message.unit !== undefined);
    if (endsUnit && entry.busy && entry.busy.job === message.job && entry.busy.unit === message.unit) entry.busy = null;
    var job = this.findJob(message.job);
    if (job) {
      if (message.type === 'plan') this.onPlan(job, message);
      else if (message.type === 'unit') this.onUnit(job, message);
      else if (message.type === 'done' || message.type === 'error') this.deliver(job, message);
    }
    this.pump();
  },
  onPlan: function (job, message) {
    job.plan = message;
    job.unitCount = Math.ceil(message.chunkCount / job.chunksPerUnit);
    job.leaves = new Uint8Array(message.leafCount * 32);
  },
  onUnit: function (job, message) {
    job.leaves.set(message.leaves, message.firstLeaf * 32);
    job.held[message.unit] = message;
    for (var ready = job.held[job.nextDelivery]; ready; ready = job.held[job.nextDelivery]) {
      delete job.held[job.nextDelivery];
      job.nextDelivery++;
      job.hashedBytes += ready.bytes;
      var batch = { type: 'chunks', job: job.id, chunkCount: job.plan.chunkCount, firstNumber: ready.firstNumber,
        digests: ready.digests, spans: ready.spans, hashedBytes: job.hashedBytes };
      if (ready.identifier) batch.identifier = ready.identifier;
      this.handlers[job.id](batch);
      if (this.jobs.indexOf(job) < 0) return; // the handler cancelled it
    }
    if (job.nextDelivery === job.unitCount && !job.rootAsked) {
      job.rootAsked = true;
      var leaves = job.leaves;
      job.leaves = null;
      var rooter = this.anyWorker();
      if (rooter) rooter.worker.postMessage({ type: 'root', job: job.id, leaves: leaves, size: job.file.size }, [leaves.buffer]);
    }
  }
};

function describe(error) {
  return String(error && (error.message || error.name) || error);
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
  // Kept until the Worker has surely loaded it: its first message or error (see addWorker).
  worker.resumableBlobUrl = blobUrl;
  return worker;
}

function releaseBlobUrl(worker) {
  if (!worker.resumableBlobUrl) return;
  URL.revokeObjectURL(worker.resumableBlobUrl);
  worker.resumableBlobUrl = null;
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
