// The demo's hash tool (/tools/hash/) chunks a chosen file and computes its tree digests with the
// wasm core in a Worker; what it shows must equal the Python reference (tools/resumable_digest.py)
// for the whole file and for every chunk, with chunk sizes that are multiples of the 1 MiB leaf
// (digests from leaves), one that is not (digests from bytes), and one that mixes both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  artifactsDir, endDemoSession, launchBrowser, referenceDigest, scratchDir, startDemo, writeRandomFile,
} from './harness.mjs';

const MiB = 1048576;
const FILE_SIZE = 64 * MiB + 12345; // the last 1 MiB chunk absorbs the 12345-byte remainder
let dir, demo, browser, filePath, fileDigest;

before(async () => {
  dir = scratchDir('demo-hash');
  filePath = join(dir, 'random.bin');
  await writeRandomFile(filePath, FILE_SIZE);
  fileDigest = referenceDigest(filePath);
  demo = await startDemo({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

after(() => endDemoSession({ browser, demo, dir }));

// The reference's chunk_digest for each [offset, size), in one Python process (-B: no __pycache__
// in tools/).
function referenceChunkDigests(spans) {
  const tools = new URL('../../tools/', import.meta.url).pathname;
  const program = 'import json, sys; sys.path.insert(0, sys.argv[1]); import resumable_digest as r; ' +
    'print(json.dumps([r.chunk_digest(sys.argv[2], o, s).hex() for o, s in json.load(sys.stdin)]))';
  return JSON.parse(execFileSync('python3', ['-B', '-c', program, tools, filePath],
    { input: JSON.stringify(spans), encoding: 'utf8', maxBuffer: 1 << 24 }));
}

async function hashInPage(page, { chunkBytes, force }) {
  await page.goto(new URL('tools/hash/', demo.url).href);
  if (chunkBytes % MiB === 0) {
    await page.fill('#chunk-size', String(chunkBytes / MiB));
  } else {
    await page.selectOption('#chunk-unit', '1');
    await page.fill('#chunk-size', String(chunkBytes));
  }
  if (force) await page.check('#force-chunk-size');
  await page.setInputFiles('#file', filePath);
  await page.waitForSelector('body[data-state="done"]', { timeout: 120000 });
  const rows = await page.$$eval('#chunks tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  return {
    fileDigest: await page.textContent('#file-digest'),
    chunkCount: Number(await page.textContent('#chunk-count')),
    rows: rows.map(([number, offset, size, digest, rule]) => (
      { number: Number(number), offset: Number(offset), size: Number(size), digest, rule })),
  };
}

// Every row's digest against the reference, and the rule the page says it used against the
// alignment rule of docs/digest.md.
function checkChunks(rows) {
  const expected = referenceChunkDigests(rows.map((r) => [r.offset, r.size]));
  rows.forEach((row, i) => {
    assert.equal(row.digest, expected[i], `chunk ${row.number} [${row.offset}, +${row.size})`);
    const aligned = row.offset % MiB === 0 && (row.size % MiB === 0 || row.offset + row.size === FILE_SIZE);
    assert.equal(row.rule, aligned ? 'leaves' : 'bytes', `chunk ${row.number}'s rule`);
  });
}

test('1 MiB chunks (default mode): the file digest and every chunk digest equal the Python reference', async () => {
  const page = await browser.newPage();
  const shown = await hashInPage(page, { chunkBytes: MiB, force: false });
  assert.equal(shown.fileDigest, fileDigest);
  assert.equal(shown.chunkCount, 64);
  assert.equal(shown.rows.length, 64);
  const last = shown.rows.at(-1);
  assert.deepEqual([last.number, last.offset, last.size], [64, 63 * MiB, MiB + 12345]);
  assert.ok(shown.rows.every((r) => r.rule === 'leaves'), 'every chunk is leaf-aligned');
  checkChunks(shown.rows);
  await page.screenshot({ path: join(artifactsDir(), 'demo-hash-page.png'), fullPage: false });
  await page.close();
});

test('forceChunkSize with 8 MiB chunks gives ceil(S/C) chunks and a short last chunk, all from leaves', async () => {
  const page = await browser.newPage();
  const shown = await hashInPage(page, { chunkBytes: 8 * MiB, force: true });
  assert.equal(shown.fileDigest, fileDigest);
  assert.equal(shown.chunkCount, 9);
  const last = shown.rows.at(-1);
  assert.deepEqual([last.number, last.offset, last.size, last.rule], [9, 64 * MiB, 12345, 'leaves']);
  checkChunks(shown.rows);
  await page.close();
});

test('1,000,000-byte chunks (resumable.js default): chunk digests from bytes, the same file digest', async () => {
  const page = await browser.newPage();
  const shown = await hashInPage(page, { chunkBytes: 1000000, force: false });
  assert.equal(shown.fileDigest, fileDigest, 'the file digest does not depend on the chunk size');
  assert.equal(shown.chunkCount, Math.floor(FILE_SIZE / 1000000));
  assert.ok(shown.rows.every((r) => r.rule === 'bytes'), 'no chunk is leaf-aligned');
  checkChunks(shown.rows);
  await page.close();
});

test('1.5 MiB chunks, forced: aligned and unaligned chunks in one file each follow their rule', async () => {
  const page = await browser.newPage();
  const shown = await hashInPage(page, { chunkBytes: 3 * MiB / 2, force: true });
  assert.equal(shown.fileDigest, fileDigest);
  assert.equal(shown.chunkCount, 43);
  // Chunk 1 [0, 1.5 MiB) ends off a leaf boundary; chunk 43 [63 MiB, S) starts on one and ends the file.
  assert.equal(shown.rows[0].rule, 'bytes');
  assert.deepEqual([shown.rows.at(-1).offset, shown.rows.at(-1).rule], [63 * MiB, 'leaves']);
  checkChunks(shown.rows);
  await page.close();
});
