// Peak memory of the server does not grow with file size: a 64 MiB upload and (on a fresh server) a
// 1 GiB upload, both as raw octet chunks of 8 MiB sent 4 at a time from node (bodies streamed from
// the file, never held in memory), must leave the server's peak RSS (VmHWM in /proc/<pid>/status)
// within a small bound of each other. Both stored files must equal the originals.
//
// The server runs with --durable 1, its default: the memory claim is about the configuration a
// deployment runs, and fsync does not change what the process holds in memory (written pages sit in
// the page cache, which is not part of the process's RSS); it only costs some seconds of disk time.
//
// It runs with as many CivetWeb worker threads as parallel requests (--threads 4), so both uploads
// use every worker: each worker that has served a chunk keeps its own footprint (its stack and a
// glibc malloc arena holding its 256 KiB body buffer, about 0.3 MiB), and with the test server's
// default 32 workers the 128-request upload would simply wake more of them than the 8-request one
// (peak ~6 MiB vs ~12-14 MiB there, flat from 256 MiB to 2 GiB). That is per-worker memory, bounded
// by the thread count, not growth with file size, which is what this test isolates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, openSync, writeSync, ftruncateSync, closeSync, readFileSync, rmSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { referenceDigest, removeDir, scratchDir, startTestServer } from '../browser/harness.mjs';

const MiB = 1048576;
const CHUNK = 8 * MiB;
const PARALLEL = 4;
const ALLOWED_GROWTH = 8 * MiB;
const USER = 'rss-tester';
const DURABLE = '1';

let dir;

before(() => { dir = scratchDir('server-rss'); });
after(() => { removeDir(dir); });

// A sparse file of `size` bytes with 4 KiB of random bytes at every MiB and at its end: fast to make,
// cheap on disk, and any misplaced or reordered chunk changes its digest.
function makeMarkedSparseFile(path, size) {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (let offset = 0; offset < size; offset += MiB) writeSync(fd, randomBytes(Math.min(4096, size - offset)), 0, undefined, offset);
    writeSync(fd, randomBytes(4096), 0, 4096, size - 4096);
  } finally {
    closeSync(fd);
  }
}

function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)[1]);
  return { hwm: kib('VmHWM') * 1024, rss: kib('VmRSS') * 1024 };
}

// POSTs bytes [offset, offset + size) of `path` as a raw octet body; resolves with {status, body}.
function postChunk(baseUrl, query, path, offset, size) {
  return new Promise((resolve, reject) => {
    const url = new URL(`upload?${new URLSearchParams(query)}`, baseUrl);
    // agent: false, one connection per request: CivetWeb (keep-alive off by default) closes every
    // connection after its reply, but the endpoint's replies do not say `Connection: close`, so a
    // keep-alive agent would reuse a closed socket ("socket hang up").
    const req = request(url, {
      agent: false,
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size, 'X-Test-User': USER },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        try { resolve({ status: res.statusCode, body: JSON.parse(text) }); } catch (e) { reject(new Error(`${res.statusCode} ${text}`)); }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    const body = createReadStream(path, { start: offset, end: offset + size - 1 });
    body.on('error', reject);
    body.pipe(req);
  });
}

async function claim(baseUrl, token) {
  const response = await fetch(new URL(`test/claim?token=${token}`, baseUrl), { method: 'POST', headers: { 'X-Test-User': USER } });
  return { status: response.status, body: await response.json() };
}

// Uploads a fresh file of `size` bytes to a fresh server; returns the server's memory figures.
async function measureUpload(size, label) {
  const path = join(dir, `${label}.bin`);
  makeMarkedSparseFile(path, size);
  const digest = referenceDigest(path);
  const server = await startTestServer({ dataDir: join(dir, `data-${label}`), args: ['--durable', DURABLE, '--threads', String(PARALLEL)] });
  try {
    const atStart = memoryOf(server.pid);
    const count = Math.max(1, Math.floor(size / CHUNK));
    const base = {
      resumableChunkSize: CHUNK, resumableTotalSize: size, resumableTotalChunks: count,
      resumableIdentifier: `rss-${label}`, resumableFilename: `${label}.bin`, fileDigest: digest,
    };
    const replies = [];
    let next = 1;
    const started = performance.now();
    const worker = async () => {
      while (next <= count) {
        const number = next++;
        const offset = (number - 1) * CHUNK;
        const current = number === count ? size - offset : CHUNK;
        const reply = await postChunk(server.url, { ...base, resumableChunkNumber: number, resumableCurrentChunkSize: current },
          path, offset, current).catch((error) => {
          throw new Error(`chunk ${number}: ${error.message}; server output: ${server.output()}`);
        });
        assert.equal(reply.status, 200, `chunk ${number}: ${JSON.stringify(reply.body)}`);
        replies.push(reply.body);
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    const seconds = (performance.now() - started) / 1000;
    const memory = memoryOf(server.pid);

    // The request that stores the last missing chunk answers with the final result; so may others that
    // were still folding their chunk into the file digest when the upload completed.
    const finals = replies.filter((r) => r.status === 'complete');
    assert.ok(finals.length >= 1, 'a reply carries the final result');
    assert.ok(finals.every((r) => JSON.stringify(r) === JSON.stringify(finals[0])), 'every final result is the same');
    assert.equal(replies.filter((r) => r.status === 'chunk_stored' && !r.duplicate).length, count - finals.length);
    const [final] = finals;
    assert.equal(final.size, size);
    assert.equal(final.chunkCount, count);
    assert.equal(final.fileDigest, digest, 'the final result carries the tree digest of the original');
    const claimed = await claim(server.url, final.token);
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    assert.equal(statSync(claimed.body.path).size, size);
    assert.equal(referenceDigest(claimed.body.path), digest, 'the stored file is byte-identical (same digest)');
    rmSync(claimed.body.path);

    console.log(`${label}: ${count} chunks of ${CHUNK / MiB} MiB, ${PARALLEL} in parallel, in ${seconds.toFixed(1)} s ` +
      `(${(size / MiB / seconds).toFixed(0)} MiB/s); server VmHWM ${(atStart.hwm / MiB).toFixed(1)} MiB at start, ` +
      `${(memory.hwm / MiB).toFixed(1)} MiB after (VmRSS ${(memory.rss / MiB).toFixed(1)} MiB)`);
    return memory;
  } finally {
    rmSync(path, { force: true });
    assert.equal(await server.stop(), 0, 'the test server exits cleanly on SIGTERM');
    removeDir(join(dir, `data-${label}`));
  }
}

test('the server\'s peak RSS for a 1 GiB upload stays within 8 MiB of its peak for a 64 MiB upload', { timeout: 600000 }, async () => {
  const small = await measureUpload(64 * MiB, '64MiB');
  const large = await measureUpload(1024 * MiB, '1GiB');
  console.log(`peak RSS: 64 MiB upload ${(small.hwm / MiB).toFixed(1)} MiB, 1 GiB upload ${(large.hwm / MiB).toFixed(1)} MiB, ` +
    `difference ${((large.hwm - small.hwm) / MiB).toFixed(1)} MiB (allowed ${ALLOWED_GROWTH / MiB} MiB)`);
  assert.ok(large.hwm <= small.hwm + ALLOWED_GROWTH,
    `1 GiB peak ${large.hwm} bytes exceeds the 64 MiB peak ${small.hwm} bytes by more than ${ALLOWED_GROWTH}`);
});
