// Uploads through the fault-injecting proxy (fault_proxy.mjs) from a scripted client that speaks the
// widget's protocol: mixed sizes (0 B to 40 MiB; one > 4 GiB sparse file in the long mode), raw and
// multipart bodies, 64 KiB to 64 MiB chunks. About a third of all chunk requests get a fault: dropped,
// reset, stalled, truncated (request or reply) or a flipped byte. Every file must end byte-identical
// (b2sum of the claimed file), every flipped chunk must be refused (chunk_digest_mismatch) or, for
// uploads that declare only a file digest, the whole file refused at release (file_digest_mismatch)
// and sent again; no flipped body may ever be stored.
//
// A 4 GiB + 1 MiB + 5 B sparse file in 64 MiB chunks crosses the proxy too (about 20 s, 4 GiB of disk while
// it runs); RESUMABLE_FAULT_SEED
// repeats a run; RESUMABLE_FAULT_UPLOADS scales the number of uploads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { FaultProxy, FAULTS } from './fault_proxy.mjs';
import {
  MiB, KiB, b2sum256, claim, referenceDigest, collect, hashFile, listTree, reportFigures, rmSync, rng, scratchDir, startServer,
  statSync, uploadFile, writeMarkedSparseFile, writeRandomFile,
} from './support.mjs';

const SEED = Number(process.env.RESUMABLE_FAULT_SEED ?? 20240607);
const UPLOADS = Number(process.env.RESUMABLE_FAULT_UPLOADS ?? 36);
const FAULT_RATE = 0.33;

let dir, server, proxy;
const random = rng(SEED);

before(async () => {
  dir = scratchDir('faults');
  server = await startServer({ dataDir: join(dir, 'data'), args: ['--durable', '0', '--threads', '24', '--request-timeout-ms', '20000', '--max-uploads-per-principal', '64'] });
  proxy = await new FaultProxy({
    target: () => server.port,
    random,
    decide: () => (random() < FAULT_RATE ? random.pick(['drop', 'reset', 'stall', 'stall', 'stall-abort', 'truncate', 'truncate-response', 'flip', 'flip', 'flip']) : null),
    stallMs: [20, 400],
    stallAbortMs: 2500,
  }).listen();
});

after(async () => {
  await proxy?.close();
  const code = await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'the server exits cleanly on SIGTERM');
});

// Checks every recorded flip: refused, or not stored (duplicate / already complete), never stored.
function checkFlips(records, mismatchesByIdentifier) {
  const flips = records.filter((r) => r.fault === 'flip');
  const outcome = { flips: flips.length, refusedChunkDigest: 0, refusedOther: 0, notWrittenDuplicate: 0, storedWithoutChunkDigest: 0, noReply: 0 };
  for (const r of flips) {
    if (r.error === 'chunk_digest_mismatch') outcome.refusedChunkDigest++;
    // Already stored (a duplicate) or already complete: the body was discarded, not written. (A flipped
    // body that completes an upload is impossible: the declared file digest refuses it.)
    else if (r.status === 200 && (r.duplicate || r.replyStatus === 'complete')) outcome.notWrittenDuplicate++;
    else if (r.status === 200 && !r.hasChunkDigest) {
      outcome.storedWithoutChunkDigest++;
      assert.ok((mismatchesByIdentifier.get(r.identifier) ?? 0) >= 1,
        `a flipped chunk of ${r.identifier} (no chunk digest) was stored: the release must refuse the file`);
    } else if (r.status === null || r.status === undefined) outcome.noReply++;
    else if (r.status >= 400) outcome.refusedOther++;
    else assert.fail(`a flipped chunk was answered ${r.status} ${JSON.stringify(r)}`);
    // Never stored as a new chunk when the digest was given.
    if (r.hasChunkDigest) assert.ok(!(r.status === 200 && r.replyStatus === 'chunk_stored' && !r.duplicate), `flipped chunk stored: ${JSON.stringify(r)}`);
  }
  return outcome;
}

async function runUploads(plan, label) {
  const files = [];
  for (const [i, p] of plan.entries()) {
    const path = join(dir, `${label}-${i}.bin`);
    if (p.sparse) writeMarkedSparseFile(path, p.size, SEED + i); else writeRandomFile(path, p.size);
    files.push({ ...p, path, identifier: `${label}-${i}-${p.size}`, hashes: await hashFile(path, p.chunkSize) });
  }
  const mismatches = new Map();
  const started = Date.now();
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++];
      const r = await uploadFile({
        base: () => proxy.url, path: f.path, identifier: f.identifier, chunkSize: f.chunkSize, hashes: f.hashes,
        parallel: 2, multipart: f.multipart, chunkDigests: f.chunkDigests, idleTimeout: 2000, fileName: `${label}-${i(f)}.bin`,
        maxAttemptsPerChunk: 80,
        onReply: (reply) => {
          // Detected without chunk digests: at release (file digest) or by the status digests.
          if (reply.json?.error === 'file_digest_mismatch' || reply.foreignChunks) mismatches.set(f.identifier, (mismatches.get(f.identifier) ?? 0) + 1);
        },
      });
      results.push({ f, ...r });
    }
  };
  const guarded = async () => {
    try {
      await worker();
    } catch (error) {
      // Show what the proxy did to the requests of the failing upload, then fail.
      const id = /^(\S+):/.exec(error.message)?.[1];
      console.error(`records: ${proxy.records.length}; of ${id}: ${proxy.records.filter((r) => r.identifier === id).length}`);
      console.error(JSON.stringify(proxy.records.filter((r) => r.identifier === id || r.error === 'invalid_body').slice(-12), null, 0));
      throw error;
    }
  };
  const i = (f) => files.indexOf(f);
  await Promise.all(Array.from({ length: 4 }, guarded));
  const seconds = (Date.now() - started) / 1000;

  // Every file: the final result's digest is the local file's tree digest (by the Python reference up
  // to 256 MiB), and the claimed bytes are the local ones.
  let identical = 0;
  for (const { f, final } of results) {
    const reply = await claim(server.url, final.token);
    assert.equal(reply.status, 200, `claim ${f.identifier}: ${reply.text}`);
    assert.equal(statSync(reply.json.path).size, f.size);
    if (f.size <= 256 * MiB) assert.equal(referenceDigest(f.path), f.hashes.file, 'the wasm core and the Python reference agree');
    assert.equal(final.fileDigest, f.hashes.file, `${f.identifier}: the final result carries the file's digest`);
    assert.equal(b2sum256(reply.json.path), b2sum256(f.path), `${f.identifier}: the stored file is byte-identical`);
    identical++;
    rmSync(reply.json.path);
    rmSync(f.path);
  }
  return { results, seconds, identical, mismatches };
}

test('uploads through the fault proxy all end byte-identical; every corruption is detected', { timeout: 1500000 }, async () => {
  const sizes = [0, 1, 4095, 64 * KiB, 64 * KiB + 1, MiB - 1, MiB, 3 * MiB + 5, 8 * MiB, 20 * MiB + 3, 40 * MiB];
  const chunkSizes = [64 * KiB, 256 * KiB, MiB];
  const plan = Array.from({ length: UPLOADS }, (_, k) => ({
    size: sizes[k % sizes.length],
    chunkSize: chunkSizes[Math.floor(k / sizes.length) % chunkSizes.length],
    multipart: k % 5 === 3,
    // A few small uploads declare only the file digest: a corruption then costs a restart of the
    // whole upload (found at release or in the status digests), so they stay small.
    chunkDigests: !(k % 9 === 4 && sizes[k % sizes.length] <= 3 * MiB + 5),
  }));
  const before = proxy.records.length;
  const { results, seconds, identical, mismatches } = await runUploads(plan, 'mixed');
  const records = proxy.records.slice(before);
  const injected = Object.fromEntries(FAULTS.map((f) => [f, records.filter((r) => r.fault === f).length]));
  const flips = checkFlips(records, mismatches);
  const totals = results.reduce((t, r) => {
    t.requests += r.stats.requests; t.networkErrors += r.stats.networkErrors; t.duplicates += r.stats.duplicates; t.restarts += r.stats.restarts;
    for (const [k, v] of Object.entries(r.stats.errors)) t.errors[k] = (t.errors[k] ?? 0) + v;
    return t;
  }, { requests: 0, networkErrors: 0, duplicates: 0, restarts: 0, errors: {} });
  const faults = Object.values(injected).reduce((a, b) => a + b, 0);
  const bytes = plan.reduce((a, p) => a + p.size, 0);
  reportFigures('faults.scripted', {
    seed: SEED, uploads: plan.length, identical, megabytes: +(bytes / MiB).toFixed(1), seconds: +seconds.toFixed(1),
    chunkRequests: records.filter((r) => r.method === 'POST').length, faultsInjected: faults, injected,
    flips, detectedWithoutChunkDigest: [...mismatches.values()].reduce((a, b) => a + b, 0), client: totals,
  });
  assert.equal(identical, plan.length);
  assert.ok(faults >= plan.length, `enough faults were injected (${faults})`);
  for (const f of FAULTS) assert.ok(injected[f] > 0, `fault ${f} was injected at least once`);
  assert.ok(flips.refusedChunkDigest > 0, 'flipped chunks were refused by their digest');

  // Nothing is left behind: all claimed, and a collection finds nothing.
  const collected = await collect(server.url);
  assert.equal(collected.status, 200);
  assert.deepEqual(listTree(join(dir, 'data', 'files')), []);
  const leftovers = listTree(join(dir, 'data', 'chunks'));
  assert.deepEqual(leftovers, [], 'no upload records or partial files remain');
});

test('a file larger than 4 GiB (sparse) crosses the proxy with faults and ends byte-identical', { timeout: 600000 }, async () => {
  const size = 4 * 1024 * MiB + MiB + 5;
  const before = proxy.records.length;
  const { results, seconds, identical, mismatches } = await runUploads([{ size, chunkSize: 64 * MiB, sparse: true, chunkDigests: true }], 'huge');
  const records = proxy.records.slice(before);
  const injected = Object.fromEntries(FAULTS.map((f) => [f, records.filter((r) => r.fault === f).length]));
  reportFigures('faults.over4GiB', {
    seed: SEED, size, identical, seconds: +seconds.toFixed(1), chunkRequests: records.filter((r) => r.method === 'POST').length,
    injected, flips: checkFlips(records, mismatches), client: results[0].stats,
  });
  assert.equal(identical, 1);
});
