// The widget's hashing Worker. One per page, shared by every uploader on it. For each file it reads
// slices (prefetching the next while hashing the current), cuts chunk boundaries out of them with
// the wasm core's geometry, and feeds each byte once to two BLAKE2b-256 states: the current chunk's
// and the whole file's. Only digests travel back to the page; the uploads read the file themselves,
// so no chunk bytes are ever copied between threads. The slices come from the file's byte stream
// into two buffers per file that take turns (one hashed, one filling); browsers without byte
// streams get one fresh ArrayBuffer per larger slice instead.
//
// Messages in:  {type: 'hash', job, file, chunkSize, forceChunkSize}, {type: 'pause'|'resume'|'cancel', job}
// Messages out: {type: 'chunks', job, chunkCount, firstNumber, digests, spans, hashedBytes, identifier?},
//               {type: 'done', job, fileDigest}, {type: 'error', job, message, unavailable?}
//               (unavailable: the wasm core did not load, so no file can be hashed)
/* global importScripts, createResumableCore */
'use strict';
// The folder of the widget's files: this script's own, or, when the page is on another origin and
// started this script through importScripts() from a Blob (hash-pool.js), the one that Blob names
// (a Blob's Worker has no folder to resolve relative URLs against).
var ASSET_BASE = typeof self.resumableAssetBase === 'string' ? self.resumableAssetBase : new URL('./', self.location.href).href;
importScripts(ASSET_BASE + 'resumable_core.js');

// Streamed slices are small enough for the browser to have the next one read (into the stream's
// pipe, about 2 MiB in Chromium) while the current one is hashed: reading then costs the Worker
// almost nothing, where 16 MiB slices mostly wait for it. A fresh ArrayBuffer per slice has a cost
// per call, so those stay large.
var STREAM_SLICE_BYTES = 1048576;
var SLICE_BYTES = 16 * 1048576;
// Bumping this changes every identifier, so uploads started by an incompatible widget never resume.
var IDENTIFIER_VERSION = 'resumable-widget/1';

// The wasm is fetched from ASSET_BASE too: with CORS when that is another origin than the page's.
var corePromise = createResumableCore({ locateFile: function (path) { return ASSET_BASE + path; } });
var jobs = []; // in arrival order; the first one that is not paused is hashed
var schedulerRunning = false;

self.onmessage = function (event) {
  var message = event.data;
  if (message.type === 'hash') {
    jobs.push({ id: message.job, file: message.file, chunkSize: message.chunkSize,
      forceChunkSize: !!message.forceChunkSize, paused: false, cancelled: false, started: false });
    runScheduler();
    return;
  }
  var job = findJob(message.job);
  if (!job) return;
  if (message.type === 'pause') job.paused = true;
  if (message.type === 'resume') job.paused = false;
  if (message.type === 'cancel') {
    job.cancelled = true;
    finishJob(job);
  }
  runScheduler();
};

function findJob(id) {
  for (var i = 0; i < jobs.length; i++) if (jobs[i].id === id) return jobs[i];
  return null;
}

function nextRunnableJob() {
  for (var i = 0; i < jobs.length; i++) if (!jobs[i].paused && !jobs[i].cancelled) return jobs[i];
  return null;
}

// Hashes one slice at a time of whichever job is first in line, so pausing a file lets the next
// one proceed and resuming it takes its place back, without ever hashing two files at once.
function runScheduler() {
  if (schedulerRunning) return;
  schedulerRunning = true;
  corePromise.then(async function (core) {
    try {
      for (var job = nextRunnableJob(); job; job = nextRunnableJob()) {
        try {
          await hashNextSlice(core, job);
        } catch (error) {
          self.postMessage({ type: 'error', job: job.id, message: describeError(error) });
          finishJob(job);
        }
        await nextTask();
      }
    } finally {
      schedulerRunning = false;
    }
  }, function (error) {
    schedulerRunning = false;
    var pending = jobs.slice();
    for (var i = 0; i < pending.length; i++) {
      self.postMessage({ type: 'error', job: pending[i].id, unavailable: true, message: 'The hashing module did not load: ' + describeError(error) });
      finishJob(pending[i]);
    }
  });
}

// Resolves from a task of its own, so messages already queued (pause, cancel, new files) are handled
// before the next slice: a streamed slice often arrives from already-read bytes, through promise
// callbacks only, and a loop of those would never let a message in.
var taskChannel = new MessageChannel();
var taskWaiters = [];
taskChannel.port1.onmessage = function () { taskWaiters.shift()(); };
function nextTask() {
  return new Promise(function (resolve) {
    taskWaiters.push(resolve);
    taskChannel.port2.postMessage(null);
  });
}

function startJob(core, job) {
  var size = job.file.size;
  if (!(job.chunkSize > 0)) throw new Error('The chunk size must be positive.');
  job.chunkCount = core.chunkCount(size, job.chunkSize, job.forceChunkSize);
  job.number = 1;
  job.span = core.chunkSpan(size, job.chunkSize, job.chunkCount, 1);
  job.position = 0;
  job.chunkHasher = core.createHasher();
  job.fileHasher = core.createHasher();
  job.reader = openSliceReader(job.file, 0);
  job.pendingSlice = job.reader.next();
  job.started = true;
}

async function hashNextSlice(core, job) {
  if (!job.started) startJob(core, job);
  var bytes = await job.pendingSlice;
  if (job.cancelled) return;
  var size = job.file.size;
  var sliceStart = job.position;
  job.position += bytes.length;
  job.pendingSlice = job.position < size ? job.reader.next() : null;

  var batch = { type: 'chunks', job: job.id, chunkCount: job.chunkCount, firstNumber: job.number,
    digests: [], spans: [], hashedBytes: job.position };
  var used = 0;
  // An empty file is one empty chunk: the loop below never sees a chunk end, so close it here.
  if (size === 0) completeChunk(core, job, batch);
  while (used < bytes.length) {
    var chunkEnd = job.span.offset + job.span.size;
    var take = Math.min(bytes.length - used, chunkEnd - (sliceStart + used));
    core.updateHashers([job.chunkHasher, job.fileHasher], bytes.subarray(used, used + take));
    used += take;
    if (sliceStart + used === chunkEnd) completeChunk(core, job, batch);
  }
  job.reader.release(bytes);
  if (batch.digests.length > 0) self.postMessage(batch);
  if (!job.pendingSlice) {
    self.postMessage({ type: 'done', job: job.id, fileDigest: core.toHex(job.fileHasher.digest()) });
    finishJob(job);
  }
}

function completeChunk(core, job, batch) {
  var digest = core.toHex(job.chunkHasher.digest());
  batch.digests.push(digest);
  batch.spans.push(job.span.offset, job.span.size);
  if (job.number === 1) batch.identifier = identifierFor(core, job.file, job.chunkSize, job.forceChunkSize, digest);
  job.number++;
  if (job.number <= job.chunkCount) job.span = core.chunkSpan(job.file.size, job.chunkSize, job.chunkCount, job.number);
}

// Stable across reloads and browser restarts for the same file and settings, so re-selecting a file
// finds its partial upload; any change to name, size, modification time, chunking or the first
// chunk's bytes yields a new upload instead of mixing two files. Letters, digits and one hyphen only,
// so pages can use it in element ids and class names as resumable.js pages do.
function identifierFor(core, file, chunkSize, forceChunkSize, firstChunkDigest) {
  var description = JSON.stringify([IDENTIFIER_VERSION, file.name, file.size, file.lastModified,
    chunkSize, forceChunkSize, firstChunkDigest]);
  var digest = core.toHex(core.hashBytes(new TextEncoder().encode(description)));
  return file.size + '-' + digest.slice(0, 40);
}

function finishJob(job) {
  var index = jobs.indexOf(job);
  if (index >= 0) jobs.splice(index, 1);
  if (job.chunkHasher) job.chunkHasher.dispose();
  if (job.fileHasher) job.fileHasher.dispose();
  job.chunkHasher = job.fileHasher = null;
  if (job.reader) job.reader.cancel();
  job.reader = job.pendingSlice = null;
  job.cancelled = true;
}

// Reads a file from `start` on in slices (the last one shorter). next() starts reading the following
// slice and promises its bytes (null once cancelled); call it again only after the previous slice
// arrived, and hand each slice to release() once it has been hashed. Through a BYOB reader of the
// file's stream the slices fill two buffers in turn, allocated once per file (fresh memory costs a
// page fault per page). Without byte streams, one arrayBuffer() per slice.
function openSliceReader(file, start) {
  var size = file.size;
  var position = start;
  var reader = null;
  var spare = []; // buffers released by the hasher, to be filled again
  var cancelled = false;
  if (start < size && typeof file.stream === 'function' && typeof ReadableStreamBYOBReader === 'function') {
    var stream = null;
    try {
      stream = file.slice(start).stream();
      reader = stream.getReader({ mode: 'byob' });
    } catch (error) {
      // Blob streams that are not byte streams (older Safari): read slices as ArrayBuffers.
      if (stream) stream.cancel().catch(function () {});
      reader = null;
    }
  }
  var sliceBytes = reader ? STREAM_SLICE_BYTES : SLICE_BYTES;
  var bufferBytes = Math.min(sliceBytes, size - start);

  async function fill(buffer, length) {
    var filled = 0;
    while (filled < length) {
      // A BYOB read transfers the buffer: the bytes arrive in result.value.buffer.
      var result = await reader.read(new Uint8Array(buffer, filled, length - filled));
      if (cancelled) return null;
      if (result.done) throw new Error('The file ended before its size: it changed while being read.');
      buffer = result.value.buffer;
      filled += result.value.byteLength;
    }
    return new Uint8Array(buffer, 0, length);
  }

  return {
    next: function () {
      var length = Math.min(sliceBytes, size - position);
      var slice;
      if (reader) slice = fill(spare.length > 0 ? spare.pop() : new ArrayBuffer(bufferBytes), length);
      else slice = file.slice(position, position + length).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
      position += length;
      // A prefetch abandoned by a cancel may still fail; whoever awaits it still sees the failure.
      slice.catch(function () {});
      return slice;
    },
    release: function (bytes) {
      if (reader && !cancelled && bytes.buffer.byteLength === bufferBytes) spare.push(bytes.buffer);
    },
    cancel: function () {
      cancelled = true;
      spare = [];
      if (reader) reader.cancel().catch(function () {});
    }
  };
}

function describeError(error) {
  return String(error && (error.message || error.name) || error);
}
