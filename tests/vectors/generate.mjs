#!/usr/bin/env node
// Golden vectors for the core, computed independently of it:
//   digests  by coreutils `b2sum -l 256` over deterministic bytes (testdata.mjs),
//   geometry by plain BigInt arithmetic of the rule in shared PROTOCOL-FACTS (resumable.js/flow.js).
// `node generate.mjs` rewrites vectors.json; `node generate.mjs --check` recomputes everything and
// fails if vectors.json differs (the cross-check against b2sum that runs in the test suite).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testBytes } from './testdata.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const vectorsPath = join(here, 'vectors.json');
const MiB = 1048576n;

function b2sum256(bytes) {
  const dir = mkdtempSync(join(tmpdir(), 'resumable-vectors-'));
  try {
    const file = join(dir, 'data');
    writeFileSync(file, bytes);
    return execFileSync('b2sum', ['-l', '256', file], { encoding: 'utf8' }).split(' ')[0];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function digestVectors() {
  const lengths = [0, 1, 63, 64, 65, 127, 128, 129, 4096, 65535, 65536, 65537, 1048576 + 3];
  const vectors = lengths.map((length) => {
    const seed = (0x9e3779b9 ^ length) >>> 0;
    return { length, seed, blake2b256: b2sum256(testBytes(length, seed)) };
  });
  // A multi-MiB file, to be fed by the tests in the awkward update sizes listed here.
  const length = 5 * 1048576 + 12345;
  const seed = 0x2545f491;
  vectors.push({
    length, seed, blake2b256: b2sum256(testBytes(length, seed)),
    update_sizes: [1, 63, 64, 65, 127, 128, 129, 4095, 4097, 65535, 65537, 1000003, 3],
  });
  return vectors;
}

const count = (S, C, force) => {
  let n = S / C;
  if (force && S % C !== 0n) n += 1n;
  return n === 0n ? 1n : n;
};
const span = (S, C, N, k) => {
  const offset = (k - 1n) * C;
  return { number: k, offset, size: k < N ? C : S - offset };
};

function geometryVectors() {
  const G = 1024n * MiB;
  const cases = [
    { name: 'empty', total: 0n, chunk: MiB },
    { name: 'S < C', total: 1000n, chunk: MiB },
    { name: 'S = C', total: MiB, chunk: MiB },
    { name: 'S = 2C - 1', total: 2n * MiB - 1n, chunk: MiB },
    { name: 'S = 2C', total: 2n * MiB, chunk: MiB },
    { name: 'S = 5C + 1', total: 5n * MiB + 1n, chunk: MiB },
    { name: 'S = 7C + 1, odd C', total: 7n * 1000003n + 1n, chunk: 1000003n },
    { name: 'S > 4 GiB', total: 5n * G + 3n, chunk: MiB },
    { name: 'S = 4 GiB exactly, 8 MiB chunks', total: 4n * G, chunk: 8n * MiB },
    { name: 'S = 2^40 + 7, 8 MiB chunks', total: (1n << 40n) + 7n, chunk: 8n * MiB },
    { name: 'C = 1', total: 3n, chunk: 1n },
  ];
  return cases.map(({ name, total, chunk }) => {
    const modes = {};
    for (const [mode, force] of [['last_absorbs_remainder', false], ['force_chunk_size', true]]) {
      const N = count(total, chunk, force);
      const numbers = [...new Set([1n, 2n, N - 1n, N].filter((k) => k >= 1n && k <= N))];
      const last = span(total, chunk, N, N);
      const checks = [
        { number: N, size: last.size, verdict: 'ok' },
        { number: N, size: last.size + 1n, verdict: 'wrong_size' },
        { number: 1n, size: N > 1n ? chunk + 1n : last.size + 1n, verdict: 'wrong_size' },
        { number: 0n, size: chunk, verdict: 'number_out_of_range' },
        { number: N + 1n, size: chunk, verdict: 'number_out_of_range' },
      ];
      if (last.size > 0n) checks.push({ number: N, size: last.size - 1n, verdict: 'wrong_size' });
      modes[mode] = { chunk_count: N, spans: numbers.map((k) => span(total, chunk, N, k)), checks };
    }
    const counts = new Set([modes.last_absorbs_remainder.chunk_count, modes.force_chunk_size.chunk_count]);
    const inconsistent = [0n, 2n, 1n + [...counts].reduce((a, b) => (a > b ? a : b))].filter((n) => !counts.has(n));
    return { name, total_size: total, chunk_size: chunk, modes, inconsistent_counts: inconsistent };
  });
}

// 64-bit values are written as decimal strings so no JSON reader rounds them.
const toJson = (value) =>
  JSON.stringify(value, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';

const vectors = {
  about: 'Golden vectors: digests from coreutils b2sum -l 256 over testdata.mjs bytes; geometry from the resumable.js/flow.js rule. Regenerate: node tests/vectors/generate.mjs',
  digests: digestVectors(),
  geometry: geometryVectors(),
};
const text = toJson(vectors);
if (process.argv.includes('--check')) {
  const committed = readFileSync(vectorsPath, 'utf8');
  if (committed !== text) {
    console.error('vectors.json differs from what b2sum and the reference rule give now');
    process.exit(1);
  }
  console.log(`vectors.json matches b2sum -l 256 (${vectors.digests.length} digests) and the geometry rule (${vectors.geometry.length} cases)`);
} else {
  writeFileSync(vectorsPath, text);
  console.log(`wrote ${vectorsPath}`);
}
