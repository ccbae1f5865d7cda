// One of the widget's hashing Workers (a page runs a small pool of them, hash-pool.js). It hashes
// "units": runs of consecutive chunks of one file, one unit at a time, into the tree digest of
// docs/digest.md. A unit owns the 1 MiB leaves that start inside it, so the units of a file, hashed
// by any Workers in any order, give every leaf exactly once. Leaf-aligned chunks get their digest
// from their leaves (each byte hashed once); other chunks are hashed again under the bytes domain.
// The file's digest comes from all its leaves, which the pool gathers and hands back ('root').
// Only digests travel to the page: the uploads read the file themselves (widget/README.md says why).
//
// Messages in:  {type: 'plan', job, size, chunkSize, forceChunkSize}
//               {type: 'unit', job, unit, file, chunkSize, forceChunkSize, chunkCount, firstNumber, lastNumber}
//               {type: 'cancel', job}   (abandons the unit of that job being hashed, if any)
//               {type: 'root', job, leaves, size}
// Messages out: {type: 'plan', job, chunkCount, leafCount}
//               {type: 'unit', job, unit, firstNumber, digests, spans, firstLeaf, leaves, bytes, identifier?}
//               {type: 'cancelled', job, unit}, {type: 'done', job, fileDigest}
//               {type: 'error', job, unit?, message, unavailable?}
//               (unavailable: the wasm core did not load, so no file can be hashed)
// Every 'unit' in gets exactly one 'unit', 'cancelled' or 'error' out.
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
// per call, so those stay large. Both are multiples of the leaf size, so that after a unit's first
// slice every slice is whole leaves.
var STREAM_SLICE_BYTES = 1048576;
var SLICE_BYTES = 16 * 1048576;
// Bumping this changes every identifier, so uploads started by an incompatible widget never resume.
// 2: chunk and file digests are the tree digest (docs/digest.md), no longer plain BLAKE2b-256.
var IDENTIFIER_VERSION = 'resumable-widget/2';

// The wasm is fetched from ASSET_BASE too: with CORS when that is another origin than the page's.
var corePromise = createResumableCore({ locateFile: function (path) { return ASSET_BASE + path; } });
var current = null; // the unit being hashed: {job, unit, cancelled, reader}
var spareBuffers = []; // full-size stream buffers, reused across units (fresh memory costs page faults)

self.onmessage = function (event) {
  var message = event.data;
  if (message.type === 'cancel') {
    if (current && current.job === message.job) cancelUnit(current);
    return;
  }
  corePromise.then(function (core) {
    try {
      if (message.type === 'plan') answerPlan(core, message);
      else if (message.type === 'root') answerRoot(core, message);
      else if (message.type === 'unit') runUnit(core, message);
    } catch (error) {
      self.postMessage({ type: 'error', job: message.job, unit: message.unit, message: describeError(error) });
    }
  }, function (error) {
    self.postMessage({ type: 'error', job: message.job, unit: message.unit, unavailable: true,
      message: 'The hashing module did not load: ' + describeError(error) });
  });
};

function answerPlan(core, message) {
  if (!(message.chunkSize > 0)) throw new Error('The chunk size must be positive.');
  self.postMessage({ type: 'plan', job: message.job, leafCount: core.leafCount(message.size),
    chunkCount: core.chunkCount(message.size, message.chunkSize, message.forceChunkSize) });
}

function answerRoot(core, message) {
  var digest = core.fileDigestFromLeaves(message.leaves, message.size);
  if (!digest) throw new Error('The leaf digests do not fit the file size.');
  self.postMessage({ type: 'done', job: message.job, fileDigest: core.toHex(digest) });
}

// Resolves from a task of its own, so messages already queued (a cancel) are handled before the
// next slice: a streamed slice often arrives from already-read bytes, through promise callbacks
// only, and a loop of those would never let a message in.
var taskChannel = new MessageChannel();
var taskWaiters = [];
taskChannel.port1.onmessage = function () { taskWaiters.shift()(); };
function nextTask() {
  return new Promise(function (resolve) {
    taskWaiters.push(resolve);
    taskChannel.port2.postMessage(null);
  });
}

function cancelUnit(state) {
  state.cancelled = true;
  if (state.reader) state.reader.cancel();
}

async function runUnit(core, message) {
  var state = { job: message.job, unit: message.unit, cancelled: false, reader: null };
  current = state;
  var leafHasher = null, bytesHasher = null;
  try {
    var outcome = await hashUnit(core, message, state, function (leaf, bytes) { leafHasher = leaf; bytesHasher = bytes; });
    if (state.cancelled) self.postMessage({ type: 'cancelled', job: state.job, unit: state.unit });
    else self.postMessage(outcome, [outcome.leaves.buffer]);
  } catch (error) {
    if (state.cancelled) self.postMessage({ type: 'cancelled', job: state.job, unit: state.unit });
    else self.postMessage({ type: 'error', job: state.job, unit: state.unit, message: describeError(error) });
  } finally {
    if (state.reader) state.reader.cancel();
    if (leafHasher) leafHasher.dispose();
    if (bytesHasher) bytesHasher.dispose();
    if (current === state) current = null;
  }
}

// Reads the unit's chunks, and on to the end of the last leaf starting inside them, once.
async function hashUnit(core, message, state, ownHashers) {
  var file = message.file, size = file.size, L = core.leafBytes;
  var chunks = [];
  for (var number = message.firstNumber; number <= message.lastNumber; number++) {
    var span = core.chunkSpan(size, message.chunkSize, message.chunkCount, number);
    if (!span) throw new Error('No chunk ' + number + ' in this file.');
    span.end = span.offset + span.size;
    span.aligned = core.chunkIsLeafAligned(span.offset, span.size, size);
    chunks.push(span);
  }
  var unitStart = chunks[0].offset, unitEnd = chunks[chunks.length - 1].end;
  // Leaves owned: those starting in [unitStart, unitEnd); the empty file's one leaf is the empty unit's.
  var firstLeaf = Math.ceil(unitStart / L);
  var endLeaf = size === 0 ? 1 : Math.ceil(unitEnd / L);
  var leafStart = firstLeaf * L;
  var readEnd = Math.max(unitEnd, Math.min(size, endLeaf * L));
  var leafHasher = firstLeaf < endLeaf ? core.createLeafHasher(leafStart) : null;
  var bytesHasher = chunks.some(function (c) { return !c.aligned; }) ? core.createBytesChunkHasher() : null;
  ownHashers(leafHasher, bytesHasher);
  var leaves = new Uint8Array((endLeaf - firstLeaf) * core.digestBytes);
  var leavesDone = 0;
  function addLeaves(list) {
    for (var i = 0; i < list.length; i++) leaves.set(list[i], (leavesDone++) * core.digestBytes);
  }
  var outcome = { type: 'unit', job: message.job, unit: message.unit, firstNumber: message.firstNumber,
    digests: [], spans: [], firstLeaf: firstLeaf, leaves: leaves, bytes: unitEnd - unitStart };
  var chunkIndex = 0;
  function completeChunk() {
    var chunk = chunks[chunkIndex++];
    var digest;
    if (chunk.end === size && leafHasher) addLeaves(leafHasher.finish());
    if (chunk.aligned) {
      var from = chunk.offset / L - firstLeaf;
      var to = (size === 0 ? 1 : Math.ceil(chunk.end / L)) - firstLeaf;
      if (to > leavesDone) throw new Error('A chunk ended before its leaves.');
      digest = core.chunkDigestFromLeaves(leaves.subarray(from * core.digestBytes, to * core.digestBytes));
    } else {
      digest = bytesHasher.digest();
    }
    var hex = core.toHex(digest);
    outcome.digests.push(hex);
    outcome.spans.push(chunk.offset, chunk.size);
    if (chunk === chunks[0] && message.firstNumber === 1) {
      outcome.identifier = identifierFor(core, file, message.chunkSize, message.forceChunkSize, hex);
    }
  }

  if (readEnd === unitStart) completeChunk(); // the empty file: one empty chunk, no bytes to read
  var reader = state.reader = openSliceReader(file, unitStart, readEnd);
  var position = unitStart;
  var pending = position < readEnd ? reader.next() : null;
  while (pending) {
    var bytes = await pending;
    if (state.cancelled || bytes === null) return null;
    var sliceStart = position;
    position += bytes.length;
    pending = position < readEnd ? reader.next() : null;
    // Leaves: the part of the slice from the unit's first leaf on.
    if (leafHasher && position > leafStart) addLeaves(leafHasher.update(bytes.subarray(Math.max(0, leafStart - sliceStart))));
    // Chunks: cut at their ends; bytes past the unit's last chunk only finish its last leaf.
    var used = 0;
    while (chunkIndex < chunks.length && used < bytes.length) {
      var chunk = chunks[chunkIndex];
      var take = Math.min(bytes.length - used, chunk.end - (sliceStart + used));
      if (!chunk.aligned) bytesHasher.update(bytes.subarray(used, used + take));
      used += take;
      if (sliceStart + used === chunk.end) completeChunk();
    }
    reader.release(bytes);
    await nextTask();
  }
  if (chunkIndex !== chunks.length || leavesDone !== endLeaf - firstLeaf) throw new Error('The unit ended early.');
  return outcome;
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

// Reads [start, end) of a file in slices (the last one shorter; the first one shorter too when it
// starts off a slice boundary). next() starts reading the following slice and promises its bytes
// (null once cancelled); call it again only after the previous slice arrived, and hand each slice
// to release() once it has been hashed. Through a BYOB reader of the file's stream the slices fill
// buffers kept for the next units; without byte streams, one arrayBuffer() per slice.
function openSliceReader(file, start, end) {
  var position = start;
  var reader = null;
  var cancelled = false;
  if (start < end && typeof file.stream === 'function' && typeof ReadableStreamBYOBReader === 'function') {
    var stream = null;
    try {
      stream = file.slice(start, end).stream();
      reader = stream.getReader({ mode: 'byob' });
    } catch (error) {
      // Blob streams that are not byte streams (older Safari): read slices as ArrayBuffers.
      if (stream) stream.cancel().catch(function () {});
      reader = null;
    }
  }
  var sliceBytes = reader ? STREAM_SLICE_BYTES : SLICE_BYTES;

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
      var length = Math.min(sliceBytes - position % sliceBytes, end - position);
      var slice;
      if (reader) {
        var buffer = spareBuffers.length > 0 ? spareBuffers.pop() : new ArrayBuffer(Math.min(STREAM_SLICE_BYTES, file.size));
        slice = fill(buffer, length);
      } else {
        slice = file.slice(position, position + length).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
      }
      position += length;
      // A prefetch abandoned by a cancel may still fail; whoever awaits it still sees the failure.
      slice.catch(function () {});
      return slice;
    },
    release: function (bytes) {
      if (reader && bytes.buffer.byteLength === STREAM_SLICE_BYTES && spareBuffers.length < 2) spareBuffers.push(bytes.buffer);
    },
    cancel: function () {
      if (cancelled) return;
      cancelled = true;
      if (reader) reader.cancel().catch(function () {});
    }
  };
}

function describeError(error) {
  return String(error && (error.message || error.name) || error);
}
