// A page written for resumable.js works with the widget when only its script tag changes: the same
// page runs once with the unmodified resumable.js 1.1.0 (npm) and once with the widget, against the
// real server, and both upload the same files with the same tree digests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDigest, removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, claim, launchBrowser, openContext, startTestServer } from './widget_support.mjs';

const ORIGINAL_TAG = '<script src="/node_modules/resumablejs/resumable.js"></script>';
const WIDGET_TAG = '<script src="/upload/widget/resumable-widget.js"></script>';
let dir, server, browser, files;

before(async () => {
  dir = scratchDir('widget-compat');
  files = [];
  for (const [name, size] of [['alpha.bin', 5 * MiB + 123], ['beta.bin', 2 * MiB]]) {
    const path = join(dir, name);
    await writeRandomFile(path, size);
    files.push({ name, path, size, digest: referenceDigest(path) });
  }
  server = await startTestServer({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0);
});

async function runPage(scriptTag) {
  const context = await openContext(browser);
  const page = await context.newPage();
  const pagePath = '/tests/browser/pages/resumable-page.html';
  const html = readFileSync(join(process.env.RESUMABLE_SOURCE_DIR, pagePath), 'utf8');
  assert.ok(html.includes(ORIGINAL_TAG), 'the page loads resumable.js');
  await page.route((url) => url.pathname === pagePath,
    (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: html.replace(ORIGINAL_TAG, scriptTag) }));
  await page.goto(server.url + pagePath);
  await page.setInputFiles('.resumable-browse input[type=file]', files.map((file) => file.path));
  await page.waitForSelector('body[data-complete="yes"][data-results="yes"]', { timeout: 120000 });
  const shown = await page.locator('.resumable-list li').allTextContents();
  const results = await page.evaluate(() => window.results);
  const progressWidth = await page.evaluate(() => document.querySelector('.progress-bar').style.width);
  await context.close();
  return { shown, results, progressWidth };
}

async function checkUploads({ shown, results, progressWidth }) {
  assert.deepEqual(shown.sort(), files.map((file) => `Uploading ${file.name} (completed)`).sort());
  assert.equal(progressWidth, '100%');
  const byName = Object.fromEntries(results.map((result) => [result.fileName, result]));
  for (const file of files) {
    assert.equal(byName[file.name].fileDigest, file.digest, file.name);
    assert.equal(byName[file.name].size, file.size);
    const claimed = await claim(server, byName[file.name].token);
    assert.equal(claimed.status, 200);
    assert.equal(referenceDigest(claimed.body.path), file.digest);
  }
}

test('the page uploads with the unmodified resumable.js 1.1.0', async () => {
  await checkUploads(await runPage(ORIGINAL_TAG));
});

test('the same page uploads with the widget after changing only its script tag', async () => {
  await checkUploads(await runPage(WIDGET_TAG));
});
