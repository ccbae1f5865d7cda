// resumable.js uploads into the S3 store, through resumable_test_server --s3-endpoint, against the
// radosgw of tests/support/ceph_fixture.sh (which sets RESUMABLE_S3_* and the AWS_* credentials).
// Objects are read back with curl's own SigV4 (s3_support.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { getObject, keysUnder, openMultipartUploads } from './s3_support.mjs';
import {
  MiB, scratchDir, startServer, uploadFile, claim, collect, http, writeRandomFile, readFileSync, rmSync, sleep,
} from '../reliability/support.mjs';

const run = promisify(execFile);
const endpoint = process.env.RESUMABLE_S3_ENDPOINT;
const bucket = process.env.RESUMABLE_S3_BUCKET;
if (!endpoint || !bucket) throw new Error('run through tests/support/ceph_fixture.sh');

let instance = 0;
async function s3Server(args = []) {
  const prefix = `upload-test-${process.pid}-${++instance}/`;
  const dataDir = scratchDir('s3-server');
  const server = await startServer({
    dataDir,
    args: ['--s3-endpoint', endpoint, '--s3-bucket', bucket, '--s3-region', process.env.RESUMABLE_S3_REGION,
      '--s3-prefix', prefix, ...args],
  });
  return { server, prefix, base: () => server.url, async stop() { await server.stop(); rmSync(dataDir, { recursive: true, force: true }); } };
}

// Uploads `size` bytes in `chunkSize` chunks; checks the object is the file, and that every reply
// that said "complete" carried the same token (one release).
async function uploadAndCompare(s, { size, chunkSize, identifier, parallel = 3, onReply, maxAttemptsPerChunk }) {
  const dir = scratchDir('s3-file');
  const path = join(dir, 'file.bin');
  writeRandomFile(path, size);
  const tokens = new Set();
  const result = await uploadFile({
    base: s.base, path, identifier, chunkSize, parallel, maxAttemptsPerChunk, retryDelay: 50,
    onReply: (reply) => { if (reply.json?.status === 'complete') tokens.add(reply.json.token); onReply?.(reply); },
  });
  assert.equal(tokens.size, 1, `one release, one token: ${[...tokens]}`);
  const claimed = await claim(s.base(), result.final.token);
  assert.equal(claimed.status, 200, claimed.text);
  assert.ok(claimed.json.path.startsWith(`${s.prefix}files/`), claimed.json.path);
  const copy = join(dir, 'object.bin');
  getObject(claimed.json.path, copy);
  assert.ok(readFileSync(copy).equals(readFileSync(path)), 'the object is byte-identical to the file');
  assert.equal(openMultipartUploads(s.prefix), 0, 'no multipart upload left open');
  assert.equal(keysUnder(`${s.prefix}uploads/`), 0, 'no records or staged pieces left after the claim');
  rmSync(dir, { recursive: true, force: true });
  const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.server.pid}/status`, 'utf8'))[1]) * 1024;
  console.log(`${identifier}: ${(size / MiB).toFixed(0)} MiB in ${chunkSize / MiB} MiB chunks, ` +
    `${result.stats.requests} chunk requests, server peak RSS ${(peak / MiB).toFixed(1)} MiB`);
  return { ...result, peak };
}

test('a 128 MiB file in 8 MiB chunks becomes one object, byte-identical, released once', async () => {
  const s = await s3Server();
  try {
    const { peak } = await uploadAndCompare(s, { size: 128 * MiB + 4321, chunkSize: 8 * MiB, identifier: 'big-8m' });
    // Pieces are buffered one each while received (3 at once here, the last up to 16 MiB), in
    // mmap'ed buffers unmapped after their part is sent: far from the file's 128 MiB. (From
    // malloc, freed 8 MiB blocks stayed in the threads' arenas: 117 MiB.)
    assert.ok(peak < 80 * MiB, `peak RSS ${peak}`);
  } finally { await s.stop(); }
});

test('chunks under 5 MiB are staged and combined at release', async () => {
  const s = await s3Server();
  try {
    await uploadAndCompare(s, { size: 24 * MiB + 99, chunkSize: MiB, identifier: 'small-1m', parallel: 4 });
  } finally { await s.stop(); }
});

test('radosgw stopped mid-upload: the client gets a retryable 503 and the upload completes once it is back', async () => {
  const s = await s3Server(['--s3-max-attempts', '3']);
  const fixture = process.env.RESUMABLE_CEPH_FIXTURE;
  let stored = 0;
  let outage = null;
  const busy = [];
  try {
    await uploadAndCompare(s, {
      size: 64 * MiB, chunkSize: 8 * MiB, identifier: 'outage', parallel: 2, maxAttemptsPerChunk: 400,
      onReply: (reply) => {
        if (reply.json?.status === 'chunk_stored' && ++stored === 2 && !outage) {
          outage = (async () => {
            await run('bash', [fixture, 'rgw-stop']);
            await sleep(3000);
            await run('bash', [fixture, 'rgw-start']);
          })();
        }
        if (reply.status >= 500) busy.push([reply.status, reply.json?.error, reply.json?.retryable, reply.headers['retry-after']]);
      },
    });
    await outage;
  } finally { await s.stop(); }
  assert.ok(busy.length > 0, 'the client saw the outage');
  for (const reply of busy) assert.deepEqual(reply, [503, 'server_busy', true, '1']);
  console.log(`outage: ${busy.length} replies 503 server_busy (Retry-After: 1)`);
});

async function partialUpload(s, identifier) {
  // Two of four 6 MiB chunks, without digests: the upload stays partial, its multipart upload open.
  const size = 24 * MiB;
  const common = { resumableChunkSize: 6 * MiB, resumableTotalSize: size, resumableTotalChunks: 4,
    resumableIdentifier: identifier, resumableFilename: 'p.bin', resumableRelativePath: 'p.bin' };
  for (const k of [1, 3]) {
    const query = new URLSearchParams({ ...common, resumableChunkNumber: k, resumableCurrentChunkSize: 6 * MiB });
    const reply = await http(`${s.base()}/upload?${query}`, {
      method: 'POST', headers: { 'X-Test-User': 'alice', 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(6 * MiB, k),
    });
    assert.equal(reply.status, 200, reply.text);
  }
  assert.equal(openMultipartUploads(s.prefix), 1);
}

test('cancelling an upload aborts its multipart upload and deletes its records', async () => {
  const s = await s3Server();
  try {
    await partialUpload(s, 'cancelled');
    const reply = await http(`${s.base()}/upload?identifier=cancelled`, { method: 'DELETE', headers: { 'X-Test-User': 'alice' } });
    assert.ok(reply.status < 300, reply.text);
    assert.equal(openMultipartUploads(s.prefix), 0);
    assert.equal(keysUnder(s.prefix), 0);
  } finally { await s.stop(); }
});

test('collection of a stale upload aborts its multipart upload and deletes its records', async () => {
  const s = await s3Server(['--stale-after-s', '1']);
  try {
    await partialUpload(s, 'stale');
    await sleep(2500);
    const report = await collect(s.base());
    assert.equal(report.json.staleRemoved, 1, report.text);
    assert.equal(openMultipartUploads(s.prefix), 0);
    assert.equal(keysUnder(s.prefix), 0);
  } finally { await s.stop(); }
});

test('tus: 54 MiB in PATCH requests of 18 MiB (pieces of 16 and 2 MiB, in order) becomes one object', async () => {
  const s = await s3Server(['--tus-path', '/files']);
  const user = { 'X-Test-User': 'alice', 'Tus-Resumable': '1.0.0' };
  const dir = scratchDir('s3-tus');
  const path = join(dir, 'file.bin');
  const size = 54 * MiB;
  try {
    writeRandomFile(path, size);
    const created = await http(`${s.base()}/files`, {
      method: 'POST', headers: { ...user, 'Upload-Length': String(size), 'Upload-Metadata': `filename ${Buffer.from('t.bin').toString('base64')}` },
    });
    assert.equal(created.status, 201, created.text);
    const url = `${s.base()}${created.headers.location}`;
    let last;
    for (let offset = 0; offset < size; offset += 18 * MiB) {
      last = await http(url, {
        method: 'PATCH', headers: { ...user, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset) },
        body: { path, start: offset, size: 18 * MiB },
      });
      assert.equal(last.status, 204, last.text);
    }
    const token = last.headers['upload-token'];
    assert.ok(token, 'the last PATCH carries the token');
    const claimed = await claim(s.base(), token);
    assert.equal(claimed.status, 200, claimed.text);
    getObject(claimed.json.path, join(dir, 'object.bin'));
    assert.ok(readFileSync(join(dir, 'object.bin')).equals(readFileSync(path)), 'the object is byte-identical to the file');
    assert.equal(openMultipartUploads(s.prefix), 0);
    assert.equal(keysUnder(`${s.prefix}uploads/`), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.stop();
  }
});
