// Appended to the Emscripten module (--post-js): a small JavaScript API over the C ABI in
// include/resumable/core_c_api.h. Sizes cross the boundary as BigInt (-sWASM_BIGINT) and are
// Numbers here; files beyond 2^53 bytes cannot exist in a browser.
(function attachResumableApi(M) {
  var STAGING_BYTES = 1 << 20;
  var staging = 0;

  function heap() { return HEAPU8; } // re-read after every call that may grow memory
  function big(n) {
    if (typeof n === 'bigint') return n;
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('size must be a non-negative safe integer: ' + n);
    return BigInt(n);
  }
  function stagingPointer() {
    if (!staging) staging = M._malloc(STAGING_BYTES);
    if (!staging) throw new Error('resumable core: out of memory');
    return staging;
  }

  M.digestBytes = 32;
  addOnInit(function () {
    if (M._rsm_digest_bytes() !== M.digestBytes) throw new Error('resumable core: digest size mismatch');
  });

  M.chunkCount = function (totalSize, chunkSize, forceChunkSize) {
    return Number(M._rsm_chunk_count(big(totalSize), big(chunkSize), forceChunkSize ? 1 : 0));
  };

  M.chunkSpan = function (totalSize, chunkSize, chunkCount, number) {
    var out = M._malloc(16);
    try {
      if (M._rsm_chunk_span(big(totalSize), big(chunkSize), big(chunkCount), big(number), out, out + 8) !== 0) return null;
      var view = new DataView(heap().buffer, out, 16);
      return { offset: Number(view.getBigUint64(0, true)), size: Number(view.getBigUint64(8, true)) };
    } finally {
      M._free(out);
    }
  };

  M.validateChunk = function (totalSize, chunkSize, chunkCount, number, size) {
    return M._rsm_validate_chunk(big(totalSize), big(chunkSize), big(chunkCount), big(number), big(size));
  };
  M.chunkVerdicts = ['ok', 'zero_chunk_size', 'inconsistent_count', 'number_out_of_range', 'wrong_size'];

  function Hasher() {
    var align = Number(M._rsm_hash_state_alignment());
    this._raw = M._malloc(Number(M._rsm_hash_state_bytes()) + align);
    if (!this._raw) throw new Error('resumable core: out of memory');
    this._state = Math.ceil(this._raw / align) * align;
    if (M._rsm_hash_init(this._state) !== 0) throw new Error('resumable core: hash init failed');
  }
  Hasher.prototype.update = function (bytes) {
    M.updateHashers([this], bytes);
    return this;
  };
  // Returns the 32-byte digest and resets the hasher for the next stream.
  Hasher.prototype.digest = function () {
    var out = stagingPointer();
    if (M._rsm_hash_final(this._state, out) !== 0) throw new Error('resumable core: hash final failed');
    return heap().slice(out, out + M.digestBytes);
  };
  Hasher.prototype.dispose = function () {
    if (this._raw) M._free(this._raw);
    this._raw = this._state = 0;
  };

  M.createHasher = function () { return new Hasher(); };

  // Feeds the same bytes to several hashers (e.g. a chunk's and the whole file's) with one copy
  // into wasm memory per staging piece.
  M.updateHashers = function (hashers, bytes) {
    if (!(bytes instanceof Uint8Array)) bytes = new Uint8Array(bytes);
    var ptr = stagingPointer();
    for (var pos = 0; pos < bytes.length; pos += STAGING_BYTES) {
      var piece = bytes.subarray(pos, Math.min(bytes.length, pos + STAGING_BYTES));
      heap().set(piece, ptr);
      for (var i = 0; i < hashers.length; i++) {
        if (M._rsm_hash_update(hashers[i]._state, ptr, piece.length) !== 0) throw new Error('resumable core: hash update failed');
      }
    }
  };

  M.hashBytes = function (bytes) {
    var h = new Hasher();
    try { return h.update(bytes).digest(); } finally { h.dispose(); }
  };

  // ---- The tree digest (docs/digest.md) ------------------------------------------------------
  // Digests are 32-byte Uint8Arrays; a list of leaf digests is an array of them or one Uint8Array
  // of 32-byte digests end to end.
  M.leafBytes = 1 << 20;
  addOnInit(function () {
    if (Number(M._rsm_leaf_bytes()) !== M.leafBytes || STAGING_BYTES !== M.leafBytes) {
      throw new Error('resumable core: leaf size mismatch');
    }
  });
  var SIZE_T_BYTES = 4; // wasm32

  function alignedState(bytes, align) {
    var raw = M._malloc(bytes + align);
    if (!raw) throw new Error('resumable core: out of memory');
    return { raw: raw, ptr: Math.ceil(raw / align) * align };
  }
  function asBytes(bytes) { return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes); }
  function flatLeaves(leaves) {
    if (leaves instanceof Uint8Array) {
      if (leaves.length % M.digestBytes !== 0) throw new RangeError('a leaf list is a whole number of 32-byte digests');
      return leaves;
    }
    var flat = new Uint8Array(leaves.length * M.digestBytes);
    for (var i = 0; i < leaves.length; i++) {
      if (leaves[i].length !== M.digestBytes) throw new RangeError('leaf digest ' + i + ' is not 32 bytes');
      flat.set(leaves[i], i * M.digestBytes);
    }
    return flat;
  }
  // Calls fn(outPointer, leavesPointer, leafCount) with the leaves in wasm memory; returns the digest.
  function digestOfLeaves(leaves, fn) {
    var flat = flatLeaves(leaves);
    var out = M._malloc(M.digestBytes + flat.length);
    if (!out) throw new Error('resumable core: out of memory');
    try {
      heap().set(flat, out + M.digestBytes);
      if (fn(out, out + M.digestBytes, flat.length / M.digestBytes) !== 0) return null;
      return heap().slice(out, out + M.digestBytes);
    } finally {
      M._free(out);
    }
  }
  // Copies bytes into wasm memory a staging piece at a time and calls fn(pointer, length) for each.
  function forEachPiece(bytes, fn) {
    var ptr = stagingPointer();
    for (var pos = 0; pos < bytes.length; pos += STAGING_BYTES) {
      var piece = bytes.subarray(pos, Math.min(bytes.length, pos + STAGING_BYTES));
      heap().set(piece, ptr);
      fn(ptr, piece.length);
    }
  }

  M.leafCount = function (size) { return Number(M._rsm_leaf_count(big(size))); };
  // Whether the chunk [offset, offset + size) of a file of totalSize bytes has its digest from its leaves.
  M.chunkIsLeafAligned = function (offset, size, totalSize) {
    return M._rsm_chunk_is_leaf_aligned(big(offset), big(size), big(totalSize)) === 1;
  };

  // Leaf digests of bytes fed in any split, from a leaf boundary `fileOffset` (default 0) of the file.
  function LeafHasher(fileOffset) {
    var start = big(fileOffset || 0);
    var memory = alignedState(Number(M._rsm_leaf_hasher_bytes()), Number(M._rsm_leaf_hasher_alignment()));
    this._raw = memory.raw;
    this._state = memory.ptr;
    // Room for the two leaves one staging piece can complete, and the count written.
    this._out = M._malloc(2 * M.digestBytes + SIZE_T_BYTES);
    if (!this._out) {
      this.dispose();
      throw new Error('resumable core: out of memory');
    }
    if (M._rsm_leaf_hasher_init(this._state, start) !== 0) {
      this.dispose();
      throw new RangeError('a leaf hasher starts on a multiple of ' + M.leafBytes + ' bytes, not ' + fileOffset);
    }
  }
  LeafHasher.prototype._written = function (leaves) {
    var count = new DataView(heap().buffer).getUint32(this._out + 2 * M.digestBytes, true);
    for (var i = 0; i < count; i++) leaves.push(heap().slice(this._out + i * M.digestBytes, this._out + (i + 1) * M.digestBytes));
  };
  // Returns the digests of the leaves these bytes complete (often none), in order.
  LeafHasher.prototype.update = function (bytes) {
    var self = this, leaves = [];
    forEachPiece(asBytes(bytes), function (ptr, length) {
      if (M._rsm_leaf_hasher_update(self._state, ptr, length, self._out, 2, self._out + 2 * M.digestBytes) !== 0) {
        throw new Error('resumable core: leaf hasher update failed');
      }
      self._written(leaves);
    });
    return leaves;
  };
  // Returns the last, shorter leaf (or the empty file's empty leaf) as an array of 0 or 1 digests,
  // and restarts the hasher at offset 0.
  LeafHasher.prototype.finish = function () {
    if (M._rsm_leaf_hasher_final(this._state, this._out, this._out + 2 * M.digestBytes) !== 0) {
      throw new Error('resumable core: leaf hasher final failed');
    }
    var leaves = [];
    this._written(leaves);
    return leaves;
  };
  LeafHasher.prototype.dispose = function () {
    if (this._raw) M._free(this._raw);
    if (this._out) M._free(this._out);
    this._raw = this._state = this._out = 0;
  };
  M.createLeafHasher = function (fileOffset) { return new LeafHasher(fileOffset); };

  // Leaf digests of bytes that start on a leaf boundary of their file and end on one or at its end
  // (empty bytes are the empty file: one leaf). Each staging piece is exactly one leaf.
  M.leafDigests = function (bytes) {
    bytes = asBytes(bytes);
    var out = M._malloc(M.digestBytes), leaves = [];
    if (!out) throw new Error('resumable core: out of memory');
    try {
      var one = function (ptr, length) {
        if (M._rsm_leaf_digests(out, 1, ptr, length) !== 0) throw new Error('resumable core: leaf digest failed');
        leaves.push(heap().slice(out, out + M.digestBytes));
      };
      if (bytes.length === 0) one(stagingPointer(), 0);
      else forEachPiece(bytes, one);
    } finally {
      M._free(out);
    }
    return leaves;
  };

  // The digest of a leaf-aligned chunk from its leaves' digests; null for an empty list.
  M.chunkDigestFromLeaves = function (leaves) {
    return digestOfLeaves(leaves, function (out, ptr, count) { return M._rsm_chunk_digest_from_leaves(out, ptr, count); });
  };
  // The file digest from all its leaf digests and its size; null unless the count fits the size.
  M.fileDigestFromLeaves = function (leaves, size) {
    var S = big(size);
    return digestOfLeaves(leaves, function (out, ptr, count) { return M._rsm_file_digest_from_leaves(out, ptr, count, S); });
  };

  // The digest of a chunk that is not leaf-aligned, from its bytes fed in any split.
  function BytesChunkHasher() {
    var memory = alignedState(Number(M._rsm_hash_state_bytes()), Number(M._rsm_hash_state_alignment()));
    this._raw = memory.raw;
    this._state = memory.ptr;
    if (M._rsm_bytes_chunk_init(this._state) !== 0) throw new Error('resumable core: hash init failed');
  }
  BytesChunkHasher.prototype.update = function (bytes) {
    var state = this._state;
    forEachPiece(asBytes(bytes), function (ptr, length) {
      if (M._rsm_bytes_chunk_update(state, ptr, length) !== 0) throw new Error('resumable core: hash update failed');
    });
    return this;
  };
  // Returns the digest and resets the hasher for the next chunk.
  BytesChunkHasher.prototype.digest = function () {
    var out = stagingPointer();
    if (M._rsm_bytes_chunk_final(this._state, out) !== 0) throw new Error('resumable core: hash final failed');
    return heap().slice(out, out + M.digestBytes);
  };
  BytesChunkHasher.prototype.dispose = Hasher.prototype.dispose;
  M.createBytesChunkHasher = function () { return new BytesChunkHasher(); };
  M.bytesChunkDigest = function (bytes) {
    var h = new BytesChunkHasher();
    try { return h.update(bytes).digest(); } finally { h.dispose(); }
  };

  M.toHex = function (bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  };
})(Module);
