// The widget's hashing pipeline (Worker + wasm core), on its own: chunk and file digests equal
// coreutils b2sum, and the upload identifier is stable for the same file across reloads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { b2sum256, removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, launchBrowser, openContext, startTestServer } from './widget_support.mjs';

const FILE_SIZE = 37 * MiB + 4321;
const CHUNK_SIZE = 3 * MiB + 1; // chunk boundaries fall inside the Worker's read slices (1 MiB; 16 without byte streams)
let dir, server, browser, context, filePath;

before(async () => {
  dir = scratchDir('widget-hashing');
  filePath = join(dir, 'sample.bin');
  await writeRandomFile(filePath, FILE_SIZE);
  server = await startTestServer({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
  context = await openContext(browser);
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0);
});

function b2sumOfRange(offset, size) {
  const bytes = Buffer.alloc(size);
  const fd = openSync(filePath, 'r');
  try { readSync(fd, bytes, 0, size, offset); } finally { closeSync(fd); }
  const piece = join(dir, `piece-${offset}`);
  writeFileSync(piece, bytes);
  return b2sum256(piece);
}

async function hashInPage(path, options) {
  const page = await context.newPage();
  await page.goto(`${server.url}/tests/browser/pages/widget-api.html`);
  await page.setInputFiles('#picker', path);
  const result = await page.evaluate((opts) => ResumableWidget.hashFile(document.getElementById('picker').files[0],
    Object.assign({ endpoint: '/upload' }, opts)), options);
  await page.close();
  return result;
}

test('chunk and file digests equal b2sum, with chunk boundaries inside read slices', async () => {
  const result = await hashInPage(filePath, { chunkSize: CHUNK_SIZE });
  const count = Math.floor(FILE_SIZE / CHUNK_SIZE);
  assert.equal(result.chunkCount, count);
  assert.equal(result.chunks.length, count);
  assert.equal(result.fileDigest, b2sum256(filePath));
  const last = result.chunks.at(-1);
  assert.deepEqual([last.number, last.offset, last.size], [count, (count - 1) * CHUNK_SIZE, FILE_SIZE - (count - 1) * CHUNK_SIZE]);
  for (const index of [0, 5, count - 1]) { // chunk 6 spans the 16 MiB mark (a slice boundary in either reading mode)
    const chunk = result.chunks[index];
    assert.equal(chunk.digest, b2sumOfRange(chunk.offset, chunk.size), `chunk ${chunk.number}`);
  }
});

test('forceChunkSize gives ceil(S/C) chunks and a short last chunk', async () => {
  const result = await hashInPage(filePath, { chunkSize: 8 * MiB, forceChunkSize: true });
  assert.equal(result.chunkCount, 5);
  assert.deepEqual([result.chunks[4].offset, result.chunks[4].size], [32 * MiB, 5 * MiB + 4321]);
  assert.equal(result.chunks[4].digest, b2sumOfRange(32 * MiB, 5 * MiB + 4321));
});

test('the identifier is the same after a reload and changes when the file is modified', async () => {
  const first = await hashInPage(filePath, { chunkSize: MiB });
  const again = await hashInPage(filePath, { chunkSize: MiB });
  assert.match(first.identifier, new RegExp(`^${FILE_SIZE}-[0-9a-f]{40}$`));
  assert.equal(again.identifier, first.identifier);
  const otherChunking = await hashInPage(filePath, { chunkSize: 2 * MiB });
  assert.notEqual(otherChunking.identifier, first.identifier, 'a different chunk size is a different upload');
  utimesSync(filePath, new Date(), new Date(Date.now() - 3600 * 1000));
  const touched = await hashInPage(filePath, { chunkSize: MiB });
  assert.notEqual(touched.identifier, first.identifier, 'a new modification time is a new upload');
});

test('an empty file is one empty chunk', async () => {
  const empty = join(dir, 'empty.bin');
  writeFileSync(empty, '');
  const result = await hashInPage(empty, { chunkSize: MiB });
  assert.equal(result.chunkCount, 1);
  assert.deepEqual(result.chunks.map((c) => [c.number, c.offset, c.size]), [[1, 0, 0]]);
  assert.equal(result.chunks[0].digest, b2sum256(empty));
  assert.equal(result.fileDigest, b2sum256(empty));
});
