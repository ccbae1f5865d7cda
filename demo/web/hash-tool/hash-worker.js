// Hashing Worker: reads the file in large slices (prefetching the next while hashing the current)
// and computes the tree digest of docs/digest.md with the wasm core: every 1 MiB leaf once, each
// leaf-aligned chunk's digest from its leaves, each other chunk's from its bytes, and the file
// digest from all the leaves and the size.
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

// One chunk in progress: whether its digest comes from its leaves, the leaves completed while its
// bytes were fed, and (for an unaligned chunk) its own hasher under the bytes domain.
function ChunkState(core, fileSize, number, span) {
  this.number = number;
  this.span = span;
  this.aligned = core.chunkIsLeafAligned(span.offset, span.size, fileSize);
  this.leaves = [];
}

async function hashFile(core, file, chunkSize, force) {
  if (!(chunkSize > 0)) throw new Error('chunk size must be positive');
  var started = performance.now();
  var count = core.chunkCount(file.size, chunkSize, force);
  self.postMessage({ type: 'geometry', chunkCount: count });
  // All leaf digests end to end: 32 bytes per MiB, so even a large file's list is small.
  var fileLeaves = new Uint8Array(core.leafCount(file.size) * core.digestBytes);
  var leavesSeen = 0;
  var leafHasher = core.createLeafHasher(0);
  var bytesHasher = core.createBytesChunkHasher();
  var alignedChunks = 0;
  try {
    var keepLeaves = function (chunk, leaves) {
      for (var i = 0; i < leaves.length; i++) {
        fileLeaves.set(leaves[i], (leavesSeen++) * core.digestBytes);
        // A leaf-aligned chunk starts on a leaf boundary, so the leaves completed while its bytes
        // are fed are exactly its own; an unaligned chunk does not use them.
        if (chunk.aligned) chunk.leaves.push(leaves[i]);
      }
    };
    var finishChunk = function (chunk, isLast) {
      if (isLast) keepLeaves(chunk, leafHasher.finish());
      var digest = chunk.aligned ? core.chunkDigestFromLeaves(chunk.leaves) : bytesHasher.digest();
      if (chunk.aligned) alignedChunks++;
      self.postMessage({ type: 'chunk', number: chunk.number, offset: chunk.span.offset, size: chunk.span.size,
        rule: chunk.aligned ? 'leaves' : 'bytes', digest: core.toHex(digest) });
    };

    // Slices follow the file, not the chunks: chunk boundaries are cut out of each slice, so small
    // chunks still get large sequential reads, and the next slice is read while this one is hashed.
    var chunk = new ChunkState(core, file.size, 1, core.chunkSpan(file.size, chunkSize, count, 1));
    var position = 0;
    var pending = file.size > 0 ? readSlice(file, 0, Math.min(file.size, SLICE_BYTES)) : null;
    while (pending) {
      var bytes = await pending;
      var sliceStart = position;
      position += bytes.length;
      pending = position < file.size ? readSlice(file, position, Math.min(file.size, position + SLICE_BYTES)) : null;
      var used = 0;
      while (used < bytes.length) {
        var chunkEnd = chunk.span.offset + chunk.span.size;
        var take = Math.min(bytes.length - used, chunkEnd - (sliceStart + used));
        var piece = bytes.subarray(used, used + take);
        keepLeaves(chunk, leafHasher.update(piece));
        // The second pass over the bytes, only where the chunk digest cannot come from leaves.
        if (!chunk.aligned) bytesHasher.update(piece);
        used += take;
        if (sliceStart + used === chunkEnd) {
          finishChunk(chunk, chunk.number === count);
          if (chunk.number < count) {
            var next = chunk.number + 1;
            chunk = new ChunkState(core, file.size, next, core.chunkSpan(file.size, chunkSize, count, next));
          }
        }
      }
    }
    if (file.size === 0) finishChunk(chunk, true); // the empty file's one empty chunk and leaf
    var fileDigest = core.fileDigestFromLeaves(fileLeaves.subarray(0, leavesSeen * core.digestBytes), file.size);
    if (!fileDigest) throw new Error('the leaf digests do not fit the file size');
    self.postMessage({ type: 'done', chunkCount: count, alignedChunks: alignedChunks, fileDigest: core.toHex(fileDigest),
      elapsedMs: performance.now() - started });
  } finally {
    leafHasher.dispose();
    bytesHasher.dispose();
  }
}

function readSlice(file, start, end) {
  return file.slice(start, end).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
}
