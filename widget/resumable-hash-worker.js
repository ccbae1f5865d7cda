// The widget's hashing Worker. One per page, shared by every uploader on it. For each file it reads
// large slices (prefetching the next while hashing the current), cuts chunk boundaries out of them
// with the wasm core's geometry, and feeds each byte once to two BLAKE2b-256 states: the current
// chunk's and the whole file's. Only digests travel back to the page; the uploads read the file
// themselves, so no chunk bytes are ever copied between threads.
//
// Messages in:  {type: 'hash', job, file, chunkSize, forceChunkSize}, {type: 'pause'|'resume'|'cancel', job}
// Messages out: {type: 'chunks', job, chunkCount, firstNumber, digests, spans, hashedBytes, identifier?},
//               {type: 'done', job, fileDigest}, {type: 'error', job, message}
/* global importScripts, createResumableCore */
'use strict';
importScripts('resumable_core.js');

var SLICE_BYTES = 16 * 1048576;
// Bumping this changes every identifier, so uploads started by an incompatible widget never resume.
var IDENTIFIER_VERSION = 'resumable-widget/1';

var corePromise = createResumableCore();
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
      }
    } finally {
      schedulerRunning = false;
    }
  }, function (error) {
    schedulerRunning = false;
    var pending = jobs.slice();
    for (var i = 0; i < pending.length; i++) {
      self.postMessage({ type: 'error', job: pending[i].id, message: 'The hashing module did not load: ' + describeError(error) });
      finishJob(pending[i]);
    }
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
  job.pendingSlice = readSlice(job.file, 0, Math.min(size, SLICE_BYTES));
  job.started = true;
}

async function hashNextSlice(core, job) {
  if (!job.started) startJob(core, job);
  var bytes = await job.pendingSlice;
  if (job.cancelled) return;
  var size = job.file.size;
  var sliceStart = job.position;
  job.position += bytes.length;
  job.pendingSlice = job.position < size ? readSlice(job.file, job.position, Math.min(size, job.position + SLICE_BYTES)) : null;

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
  job.pendingSlice = null;
  job.cancelled = true;
}

function readSlice(file, start, end) {
  var slice = file.slice(start, end).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
  // A prefetch abandoned by a cancel may still fail; whoever awaits it still sees the failure.
  slice.catch(function () {});
  return slice;
}

function describeError(error) {
  return String(error && (error.message || error.name) || error);
}
