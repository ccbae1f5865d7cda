// The WebAssembly build of the core must give byte-identical results to the golden vectors that
// the native build is checked against (tests/unit). A divergence on either side fails a test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { testBytes } from '../vectors/testdata.mjs';

const require = createRequire(import.meta.url);
const wasmDir = process.env.RESUMABLE_WASM_DIR;
assert.ok(wasmDir, 'RESUMABLE_WASM_DIR must point at the Emscripten build output');
const vectors = JSON.parse(readFileSync(new URL('../vectors/vectors.json', import.meta.url), 'utf8'));
const createResumableCore = require(join(wasmDir, 'resumable_core.js'));
// Node 20 has a global fetch that cannot load file paths: hand the module its bytes.
const core = await createResumableCore({ wasmBinary: readFileSync(join(wasmDir, 'resumable_core.wasm')) });

test('one-shot digests equal the b2sum golden vectors', () => {
  for (const v of vectors.digests) {
    assert.equal(core.toHex(core.hashBytes(testBytes(v.length, v.seed))), v.blake2b256, `length ${v.length}`);
  }
});

test('streaming digests in awkward update sizes equal the vectors', () => {
  for (const v of vectors.digests) {
    const bytes = testBytes(v.length, v.seed);
    const sizes = v.update_sizes ?? [1, 63, 64, 65, 4096];
    const hasher = core.createHasher();
    for (let pos = 0, i = 0; pos < bytes.length; i++) {
      const n = Math.min(sizes[i % sizes.length], bytes.length - pos);
      hasher.update(bytes.subarray(pos, pos + n));
      pos += n;
    }
    assert.equal(core.toHex(hasher.digest()), v.blake2b256, `length ${v.length}`);
    // digest() resets the hasher for the next stream
    hasher.update(bytes);
    assert.equal(core.toHex(hasher.digest()), v.blake2b256);
    hasher.dispose();
  }
});

test('feeding two hashers at once gives each the digest of its own stream', () => {
  const v = vectors.digests.at(-1);
  const bytes = testBytes(v.length, v.seed);
  const whole = core.createHasher();
  const part = core.createHasher();
  const cut = 3 * 1048576 + 17; // more than the staging buffer, not aligned to it
  core.updateHashers([whole, part], bytes.subarray(0, cut));
  assert.equal(core.toHex(part.digest()), core.toHex(core.hashBytes(bytes.subarray(0, cut))));
  core.updateHashers([whole], bytes.subarray(cut));
  assert.equal(core.toHex(whole.digest()), v.blake2b256);
});

test('geometry equals the golden vectors in both client modes', () => {
  for (const c of vectors.geometry) {
    const S = Number(c.total_size), C = Number(c.chunk_size);
    for (const [mode, m] of Object.entries(c.modes)) {
      const label = `${c.name} / ${mode}`;
      const N = Number(m.chunk_count);
      assert.equal(core.chunkCount(S, C, mode === 'force_chunk_size'), N, label);
      for (const s of m.spans) {
        assert.deepEqual(core.chunkSpan(S, C, N, Number(s.number)), { offset: Number(s.offset), size: Number(s.size) }, label);
      }
      assert.equal(core.chunkSpan(S, C, N, 0), null, label);
      assert.equal(core.chunkSpan(S, C, N, N + 1), null, label);
      for (const k of m.checks) {
        assert.equal(core.chunkVerdicts[core.validateChunk(S, C, N, Number(k.number), Number(k.size))], k.verdict,
          `${label}: chunk ${k.number} of ${k.size} bytes`);
      }
    }
    for (const n of c.inconsistent_counts) {
      assert.equal(core.chunkVerdicts[core.validateChunk(S, C, Number(n), 1, C)], 'inconsistent_count', c.name);
    }
  }
});

test('sizes that JavaScript cannot represent exactly are refused, not rounded', () => {
  assert.throws(() => core.chunkCount(2 ** 53, 1, false), RangeError);
  assert.throws(() => core.chunkCount(-1, 1, false), RangeError);
  assert.throws(() => core.chunkCount(1.5, 1, false), RangeError);
  assert.equal(core.chunkCount(2 ** 53 - 1, 2 ** 20, true), Math.ceil((2 ** 53 - 1) / 2 ** 20));
  assert.equal(core.chunkCount(10, 0, false), 0);
});
