// Uppy in Chromium against the tus front-end (issue 13): a test page built by esbuild from the npm
// packages (@uppy/core, @uppy/dashboard, @uppy/tus, unmodified; tests/browser/pages/uppy-tus.mjs)
// and served by the test server uploads three 24 MiB files through the Dashboard: the test picks
// them in its file input, clicks Upload, pauses with the status bar's button in the middle, checks
// that nothing moves while paused, resumes, and claims every file with the Upload-Token that HEAD
// gives for its upload URL; each must be byte-identical to its original (b2sum). Uploads are
// throttled (DevTools network emulation) so that the pause lands in the middle on any machine.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { b2sum256, launchBrowser, removeDir, scratchDir, startTestServer, writeRandomFile } from './harness.mjs';

const MiB = 1048576;
const SIZE = 24 * MiB;
const pages = fileURLToPath(new URL('pages/', import.meta.url));
const alice = { 'X-Test-User': 'alice', 'Tus-Resumable': '1.0.0' };
let dir, server, browser;
const files = [];

before(async () => {
  dir = scratchDir('uppy');
  const site = join(dir, 'site');
  mkdirSync(site);
  // The bundle (and the CSS it imports) for the test page only; nothing of it ships.
  await build({
    entryPoints: [join(pages, 'uppy-tus.mjs')],
    bundle: true,
    format: 'iife',
    outfile: join(site, 'uppy-tus.bundle.js'),
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  copyFileSync(join(pages, 'uppy-tus.html'), join(site, 'uppy-tus.html'));
  for (const name of ['one.bin', 'two.bin', 'three.bin']) {
    const path = join(dir, name);
    await writeRandomFile(path, SIZE);
    files.push({ name, path, bytes: b2sum256(path) });
  }
  server = await startTestServer({
    dataDir: join(dir, 'data'),
    args: ['--tus-path', '/files', '--document-root', site, '--durable', '0'],
  });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0, 'the test server exits cleanly on SIGTERM');
});

const events = (page) => page.evaluate(() => JSON.parse(JSON.stringify(window.uppyEvents)));

test('Uppy Dashboard + Tus: three files, paused and resumed in the middle, all stored byte-identical', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  const requests = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname.startsWith('/files')) requests.push(request.method());
  });
  await page.goto(new URL('uppy-tus.html', server.url).href);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 24 * MiB,  // bytes per second
  });

  const picker = 'input.uppy-Dashboard-input[name="files[]"]:not([webkitdirectory]) >> nth=0';
  await page.setInputFiles(picker, files.map((f) => f.path));
  await page.click('.uppy-StatusBar-actionBtn--upload');
  await page.waitForFunction(() => window.uppyEvents.progress >= 25, null, { timeout: 30000 });
  await page.click('[data-cy="togglePauseResume"]');
  const paused = (await events(page)).progress;
  assert.ok(paused < 90, `paused in the middle (at ${paused} %)`);
  await page.waitForTimeout(1500);
  const whilePaused = await events(page);
  assert.equal(whilePaused.complete, null, 'nothing completes while paused');
  assert.ok(whilePaused.progress <= paused + 10, `no progress while paused (${paused} -> ${whilePaused.progress} %)`);
  const headsBefore = requests.filter((m) => m === 'HEAD').length;

  await page.click('[data-cy="togglePauseResume"]');
  await page.waitForFunction(() => window.uppyEvents.complete, null, { timeout: 60000 });
  const done = await events(page);
  assert.deepEqual(done.errors, []);
  assert.deepEqual(done.complete, { successful: 3, failed: 0 });
  assert.ok(requests.filter((m) => m === 'HEAD').length > headsBefore, 'resumed by asking the server for the offset');
  assert.deepEqual(pageErrors, [], 'no script errors on the page');

  for (const file of files) {
    const success = done.successes.find((s) => s.name === file.name);
    assert.ok(success, `${file.name} uploaded`);
    const head = await fetch(new URL(success.url, server.url), { method: 'HEAD', headers: alice });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('upload-offset'), String(SIZE));
    const token = head.headers.get('upload-token');
    assert.ok(token, 'HEAD of a finished upload carries its token');
    const claimed = await fetch(new URL(`test/claim?token=${token}`, server.url), { method: 'POST', headers: alice });
    const body = await claimed.json();
    assert.equal(claimed.status, 200, JSON.stringify(body));
    assert.equal(body.size, SIZE);
    assert.equal(b2sum256(body.path), file.bytes, `${file.name} stored byte-identical`);
    rmSync(body.path);
  }
  await context.close();
});
