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

  M.toHex = function (bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return s;
  };
})(Module);
