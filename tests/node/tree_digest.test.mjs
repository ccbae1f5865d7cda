// The tree digest (docs/digest.md) of the WebAssembly core against the vectors the Python reference
// generated (tests/vectors/tree_vectors.json), as tests/unit/test_tree_digest.cpp checks the native core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { testBytes } from '../vectors/testdata.mjs';

const require = createRequire(import.meta.url);
const wasmDir = process.env.RESUMABLE_WASM_DIR;
assert.ok(wasmDir, 'RESUMABLE_WASM_DIR must point at the Emscripten build output');
const vectors = JSON.parse(readFileSync(new URL('../vectors/tree_vectors.json', import.meta.url), 'utf8'));
const createResumableCore = require(join(wasmDir, 'resumable_core.js'));
const core = await createResumableCore({ wasmBinary: readFileSync(join(wasmDir, 'resumable_core.wasm')) });
const L = 1048576;
const hex = (digest) => core.toHex(digest);
const fileBytes = (file) => testBytes(file.size, file.seed);
// Update sizes that straddle leaf boundaries and the core's 1 MiB staging buffer.
const splits = [[1, 63, 4097, 1000003, L - 1, 3, L + 1], [L], [3 * L + 5]];

function feed(bytes, sizes, fn) {
  for (let pos = 0, i = 0; pos < bytes.length; i++) {
    const n = Math.min(sizes[i % sizes.length], bytes.length - pos);
    fn(bytes.subarray(pos, pos + n));
    pos += n;
  }
}

function streamedLeaves(bytes, sizes, fileOffset) {
  const hasher = core.createLeafHasher(fileOffset);
  const leaves = [];
  feed(bytes, sizes, (piece) => leaves.push(...hasher.update(piece)));
  leaves.push(...hasher.finish());
  hasher.dispose();
  return leaves.map(hex);
}

test('the vectors are for the core\'s 1 MiB leaves', () => {
  assert.equal(vectors.leaf_bytes, L);
  assert.equal(core.leafBytes, L);
});

test('leaf and file digests equal the Python reference for every split of the input', () => {
  for (const file of vectors.files) {
    const bytes = fileBytes(file);
    const label = `file of ${file.size} bytes`;
    assert.equal(core.leafCount(file.size), file.leaves.length, label);
    assert.deepEqual(core.leafDigests(bytes).map(hex), file.leaves, label);
    for (const sizes of splits) assert.deepEqual(streamedLeaves(bytes, sizes, 0), file.leaves, `${label}, split ${sizes[0]}`);
    const leaves = core.leafDigests(bytes);
    assert.equal(hex(core.fileDigestFromLeaves(leaves, file.size)), file.file_digest, label);
    // One flat Uint8Array of leaf digests works as well as an array of them.
    const flat = new Uint8Array(leaves.length * 32);
    leaves.forEach((leaf, i) => flat.set(leaf, 32 * i));
    assert.equal(hex(core.fileDigestFromLeaves(flat, file.size)), file.file_digest, label);
  }
});

test('chunk digests equal the Python reference, aligned from their leaves, unaligned from their bytes', () => {
  let aligned = 0, unaligned = 0;
  for (const file of vectors.files) {
    const bytes = fileBytes(file);
    for (const chunking of file.chunkings) {
      for (const c of chunking.chunks) {
        const label = `file of ${file.size} bytes, chunks of ${chunking.chunk_size} (${chunking.mode}), chunk ${c.number}`;
        const chunk = bytes.subarray(c.offset, c.offset + c.size);
        assert.equal(core.chunkIsLeafAligned(c.offset, c.size, file.size), c.leaf_aligned, label);
        if (c.leaf_aligned) {
          aligned++;
          const first = c.offset / L;
          const expected = file.leaves.slice(first, first + core.leafCount(c.size));
          for (const sizes of splits) assert.deepEqual(streamedLeaves(chunk, sizes, c.offset), expected, label);
          assert.deepEqual(core.leafDigests(chunk).map(hex), expected, label);
          assert.equal(hex(core.chunkDigestFromLeaves(core.leafDigests(chunk))), c.digest, label);
        } else {
          unaligned++;
          assert.equal(hex(core.bytesChunkDigest(chunk)), c.digest, label);
          const hasher = core.createBytesChunkHasher();
          for (let round = 0; round < 2; round++) { // digest() resets for the next chunk
            feed(chunk, splits[0], (piece) => hasher.update(piece));
            assert.equal(hex(hasher.digest()), c.digest, label);
          }
          hasher.dispose();
        }
      }
    }
  }
  assert.ok(aligned > 20 && unaligned > 20, `both rules exercised (${aligned} aligned, ${unaligned} unaligned)`);
});

test('lists and offsets that cannot be a chunk\'s or the file\'s are refused', () => {
  const file = vectors.files.at(-1);
  const leaves = core.leafDigests(fileBytes(file));
  assert.equal(core.chunkDigestFromLeaves([]), null);
  assert.equal(core.fileDigestFromLeaves(leaves.slice(1), file.size), null);
  assert.equal(core.fileDigestFromLeaves([], 0), null);
  assert.notEqual(hex(core.fileDigestFromLeaves(leaves, file.size + 1)), file.file_digest);
  assert.throws(() => core.createLeafHasher(1), RangeError);
  assert.throws(() => core.chunkDigestFromLeaves(new Uint8Array(33)), RangeError);
  assert.equal(core.chunkIsLeafAligned(0, 0, 0), true);
  assert.equal(core.chunkIsLeafAligned(0, 0, 1), false);
  assert.equal(core.chunkIsLeafAligned(L, L + 1, 2 * L), false);
  // An empty range past the start covers no leaf; at offset 0 it is the empty file's one leaf.
  const later = core.createLeafHasher(2 * L);
  assert.deepEqual(later.finish(), []);
  later.dispose();
  assert.deepEqual(core.leafDigests(new Uint8Array(0)).map(hex), vectors.files[0].leaves);
});
