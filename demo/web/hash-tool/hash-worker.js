// Hashing Worker: reads the file in large slices (prefetching the next while hashing the current),
// hashes each chunk and the whole file in one pass with the wasm core, and reports chunk digests.
/* global importScripts, createResumableCore */
importScripts('resumable_core.js');

var SLICE_BYTES = 16 * 1048576;
var corePromise = createResumableCore();

self.onmessage = function (event) {
  var file = event.data.file;
  var chunkSize = event.data.chunkSize;
  var force = !!event.data.forceChunkSize;
  corePromise.then(function (core) {
    return hashFile(core, file, chunkSize, force);
  }).catch(function (error) {
    self.postMessage({ type: 'error', message: String(error && error.message || error) });
  });
};

async function hashFile(core, file, chunkSize, force) {
  if (!(chunkSize > 0)) throw new Error('chunk size must be positive');
  var started = performance.now();
  var count = core.chunkCount(file.size, chunkSize, force);
  self.postMessage({ type: 'geometry', chunkCount: count });
  var fileHasher = core.createHasher();
  var chunkHasher = core.createHasher();
  try {
    // Slices follow the file, not the chunks: chunk boundaries are cut out of each slice, so small
    // chunks still get large sequential reads, and the next slice is read while this one is hashed.
    var number = 1;
    var span = core.chunkSpan(file.size, chunkSize, count, number);
    var position = 0;
    var pending = file.size > 0 ? readSlice(file, 0, Math.min(file.size, SLICE_BYTES)) : null;
    while (pending) {
      var bytes = await pending;
      var sliceStart = position;
      position += bytes.length;
      pending = position < file.size ? readSlice(file, position, Math.min(file.size, position + SLICE_BYTES)) : null;
      var used = 0;
      while (used < bytes.length) {
        var chunkEnd = span.offset + span.size;
        var take = Math.min(bytes.length - used, chunkEnd - (sliceStart + used));
        core.updateHashers([chunkHasher, fileHasher], bytes.subarray(used, used + take));
        used += take;
        if (sliceStart + used === chunkEnd) {
          reportChunk(core, number, span, chunkHasher);
          if (++number <= count) span = core.chunkSpan(file.size, chunkSize, count, number);
        }
      }
    }
    if (file.size === 0) reportChunk(core, number, span, chunkHasher); // one empty chunk
    self.postMessage({ type: 'done', chunkCount: count, fileDigest: core.toHex(fileHasher.digest()),
      elapsedMs: performance.now() - started });
  } finally {
    fileHasher.dispose();
    chunkHasher.dispose();
  }
}

function reportChunk(core, number, span, hasher) {
  self.postMessage({ type: 'chunk', number: number, offset: span.offset, size: span.size,
    digest: core.toHex(hasher.digest()) });
}

function readSlice(file, start, end) {
  return file.slice(start, end).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
}
