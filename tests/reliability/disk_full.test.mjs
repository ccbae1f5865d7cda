// Disk full: the server's data directory lives on a small tmpfs that the test mounts (root only; CI
// runs as root; skipped otherwise). Uploads that do not fit get 507 insufficient_storage (retryable),
// at their first chunk (the full size is reserved up front) or later (the disk filled up meanwhile:
// recording a chunk, writing the final record); nothing partial ever appears in upload_to, the server
// keeps serving, and once space is freed the same uploads complete byte-identical.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  MiB, KiB, b2sum256, chunkSpan, claim, referenceDigest, hashFile, http, listTree, mkdirSync, reportFigures, rmSync, scratchDir, startServer,
  uploadFile, writeRandomFile,
} from './support.mjs';

const isRoot = process.getuid?.() === 0;
const TMPFS_MIB = 48;
let dir, mountPoint, server, mounted = false;

before(async () => {
  // Not skipped when missing: CI runs as root, and a run without root must say why it cannot pass.
  assert.ok(isRoot, 'reliability.disk_full mounts a size-limited tmpfs and so needs root (CI runs as root)');
  dir = scratchDir('diskfull');
  mountPoint = join(dir, 'small');
  mkdirSync(mountPoint);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MIB}m,mode=0700`, 'tmpfs', mountPoint]);
  mounted = true;
  server = await startServer({ dataDir: join(mountPoint, 'data'), args: ['--durable', '1', '--threads', '8'] });
});

after(async () => {
  await server?.stop();
  if (mounted) execFileSync('umount', ['-l', mountPoint]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Fills the filesystem with a file of zeros until ENOSPC; returns its path.
function fillUp(path) {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(64 * KiB);
  let written = 0;
  try {
    for (let i = 0; i < 1 << 16; i++) { writeSync(fd, block); written += block.length; }
  } catch (error) {
    if (error.code !== 'ENOSPC') throw error;
  } finally {
    closeSync(fd);
  }
  return written;
}

async function postChunk(base, f, k, extra = {}) {
  const span = chunkSpan(f.hashes.size, f.chunkSize, f.hashes.count, k);
  const q = new URLSearchParams({
    resumableChunkNumber: k, resumableChunkSize: f.chunkSize, resumableCurrentChunkSize: span.size,
    resumableTotalSize: f.hashes.size, resumableTotalChunks: f.hashes.count, resumableIdentifier: f.identifier,
    resumableFilename: 'big.bin', chunkDigest: f.hashes.chunks[k - 1], fileDigest: f.hashes.file, ...extra,
  });
  return http(`${base}/upload?${q}`, { method: 'POST', headers: { 'X-Test-User': 'alice', 'Content-Type': 'application/octet-stream' }, body: { path: f.path, start: span.offset, size: span.size } });
}

const filesDir = () => join(mountPoint, 'data', 'files');

test('a full disk is a clear 507 insufficient_storage; nothing partial is released; freeing space lets uploads finish', { timeout: 600000 }, async () => {
  const figures = { tmpfsMiB: TMPFS_MIB, refusals: {}, otherClientRequests: 0, otherClientFailures: 0 };
  const count507 = (where) => { figures.refusals[where] = (figures.refusals[where] ?? 0) + 1; };

  // 1. A file larger than the free space is refused at its first chunk, before any body byte is kept.
  const bigPath = join(dir, 'big.bin');
  writeRandomFile(bigPath, 60 * MiB);
  const big = { path: bigPath, chunkSize: MiB, identifier: 'too-big', hashes: await hashFile(bigPath, MiB) };
  const r1 = await postChunk(server.url, big, 1);
  assert.equal(r1.status, 507, r1.text);
  assert.equal(r1.json.error, 'insufficient_storage');
  assert.equal(r1.json.retryable, true);
  count507('first chunk (reservation)');
  assert.deepEqual(listTree(join(mountPoint, 'data', 'chunks')), [], 'a refused upload leaves no record');
  assert.deepEqual(listTree(filesDir()), []);

  // Meanwhile a small upload from another principal still works.
  const smallPath = join(dir, 'small.bin');
  writeRandomFile(smallPath, 300 * KiB);
  const small = await uploadFile({ base: () => server.url, path: smallPath, identifier: 'small', user: 'bob', chunkSize: 64 * KiB });
  figures.otherClientRequests += small.stats.requests;

  // 2. The disk fills up while an upload is under way (its data is reserved, but records need room).
  const midPath = join(dir, 'mid.bin');
  writeRandomFile(midPath, 20 * MiB + 5);
  const mid = { path: midPath, chunkSize: MiB, identifier: 'mid', hashes: await hashFile(midPath, MiB) };
  for (let k = 1; k < mid.hashes.count; k++) assert.equal((await postChunk(server.url, mid, k)).status, 200);
  const filler = join(mountPoint, 'filler');
  figures.fillerBytes = fillUp(filler);
  const refusedLast = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await postChunk(server.url, mid, mid.hashes.count);
    refusedLast.push(`${r.status} ${r.json?.error}`);
    if (r.status === 507) count507('last chunk on a full disk');
    assert.notEqual(r.status, 200, `the last chunk cannot complete on a full disk: ${r.text}`);
    assert.equal(r.status, 507, `a clear insufficient_storage: ${r.text}`);
    assert.equal(r.json.error, 'insufficient_storage');
  }
  const status = await http(`${server.url}/upload/status?identifier=mid`, { headers: { 'X-Test-User': 'alice' } });
  assert.equal(status.json.status, 'partial', 'the upload is still partial, not lost');
  assert.equal(listTree(filesDir()).length, 1, 'only the small upload was released');

  // A new upload is refused too, clearly, while the disk is full.
  const tiny = new URLSearchParams({ resumableChunkNumber: 1, resumableChunkSize: 1024, resumableCurrentChunkSize: 10,
    resumableTotalSize: 10, resumableTotalChunks: 1, resumableIdentifier: 'tiny', resumableFilename: 't.bin' });
  const r3 = await http(`${server.url}/upload?${tiny}`, { method: 'POST', headers: { 'X-Test-User': 'carol' }, body: Buffer.alloc(10, 7) });
  figures.newUploadOnFullDisk = `${r3.status} ${r3.json?.error}`;
  assert.equal(r3.status, 507, r3.text);
  assert.equal(r3.json.error, 'insufficient_storage');
  assert.equal(listTree(filesDir()).length, 1, 'nothing partial was released');

  // 3. Space is freed: the same upload completes (a retry of the refused chunk), identical.
  rmSync(filler);
  const done = await postChunk(server.url, mid, mid.hashes.count);
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.status, 'complete', done.text);
  assert.equal(done.json.fileDigest, referenceDigest(midPath));
  const claimed = await claim(server.url, done.json.token);
  assert.equal(b2sum256(claimed.json.path), b2sum256(midPath), 'the released file is byte-identical');
  rmSync(claimed.json.path);
  const claimedSmall = await claim(server.url, small.final.token, 'bob');
  rmSync(claimedSmall.json.path);

  // With the space back, a 30 MiB upload (more than was free while the disk was full) completes.
  const fitPath = join(dir, 'fit.bin');
  writeRandomFile(fitPath, 30 * MiB);
  const fit = await uploadFile({ base: () => server.url, path: fitPath, identifier: 'fits', chunkSize: MiB });
  const fitClaim = await claim(server.url, fit.final.token);
  assert.equal(b2sum256(fitClaim.json.path), b2sum256(fitPath));
  rmSync(fitClaim.json.path);
  assert.deepEqual(listTree(join(mountPoint, 'data', 'chunks')), [], 'no records left');
  assert.deepEqual(listTree(filesDir()), [], 'nothing left in upload_to');
  figures.lastChunkReplies = refusedLast;
  figures.otherClientRequests += fit.stats.requests;
  reportFigures('disk_full', figures);
});
