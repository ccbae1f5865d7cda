// The demo's hash tool (/tools/hash/) chunks and hashes a chosen file with the wasm core in a
// Worker; what it shows must equal coreutils b2sum for the whole file and for individual chunks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  artifactsDir, b2sum256, endDemoSession, fileBytes, launchBrowser, scratchDir, startDemo, writeRandomFile,
} from './harness.mjs';

const MiB = 1048576;
const FILE_SIZE = 64 * MiB + 12345; // the last 1 MiB chunk absorbs the 12345-byte remainder
let dir, demo, browser, filePath, fileDigest;

before(async () => {
  dir = scratchDir('demo-hash');
  filePath = join(dir, 'random.bin');
  await writeRandomFile(filePath, FILE_SIZE);
  fileDigest = b2sum256(filePath);
  demo = await startDemo({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

after(() => endDemoSession({ browser, demo, dir }));

function b2sumOfRange(offset, size) {
  const piece = join(dir, `piece-${offset}-${size}`);
  writeFileSync(piece, fileBytes(filePath, offset, size));
  return b2sum256(piece);
}

async function hashInPage(page, { chunkMiB, force }) {
  await page.goto(new URL('tools/hash/', demo.url).href);
  await page.fill('#chunk-size', String(chunkMiB));
  if (force) await page.check('#force-chunk-size');
  await page.setInputFiles('#file', filePath);
  await page.waitForSelector('body[data-state="done"]', { timeout: 120000 });
  const rows = await page.$$eval('#chunks tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  return {
    fileDigest: await page.textContent('#file-digest'),
    chunkCount: Number(await page.textContent('#chunk-count')),
    rows,
  };
}

test('the page shows the b2sum digest of a 64 MiB file and of its chunks (default mode)', async () => {
  const page = await browser.newPage();
  const shown = await hashInPage(page, { chunkMiB: 1, force: false });
  assert.equal(shown.fileDigest, fileDigest);
  assert.equal(shown.chunkCount, 64);
  assert.equal(shown.rows.length, 64);
  const last = shown.rows.at(-1);
  assert.deepEqual(last.slice(0, 3), ['64', String(63 * MiB), String(MiB + 12345)]);
  assert.equal(last[3], b2sumOfRange(63 * MiB, MiB + 12345));
  assert.equal(shown.rows[0][3], b2sumOfRange(0, MiB));
  await page.screenshot({ path: join(artifactsDir(), 'demo-hash-page.png'), fullPage: false });
  await page.close();
});

test('forceChunkSize with 8 MiB chunks gives ceil(S/C) chunks and a short last chunk', async () => {
  const page = await browser.newPage();
  const shown = await hashInPage(page, { chunkMiB: 8, force: true });
  assert.equal(shown.fileDigest, fileDigest);
  assert.equal(shown.chunkCount, 9);
  assert.deepEqual(shown.rows.at(-1).slice(0, 3), ['9', String(64 * MiB), '12345']);
  assert.equal(shown.rows.at(-1)[3], b2sumOfRange(64 * MiB, 12345));
  assert.equal(shown.rows[3][3], b2sumOfRange(24 * MiB, 8 * MiB));
  await page.close();
});
