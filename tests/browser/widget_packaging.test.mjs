// How the widget ships: served from the server library's memory at <mount>/widget/, loadable as an
// ES module, described by TypeScript declarations, and within the size budget of issue 4.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { referenceDigest, removeDir, scratchDir } from './harness.mjs';
import { claim, launchBrowser, openContext, startTestServer } from './widget_support.mjs';

const SIZE_BUDGET_BYTES = 60 * 1024;
const RUNTIME_FILES = ['resumable-widget.js', 'resumable-hash-worker.js', 'resumable_core.js', 'resumable_core.wasm'];
let dir, server, browser;

before(async () => {
  dir = scratchDir('widget-packaging');
  server = await startTestServer({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0);
});

async function served(name) {
  const response = await fetch(`${server.url}/upload/widget/${name}`);
  assert.equal(response.status, 200, name);
  return { type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
}

test('the JavaScript and the wasm a page loads fit in 60 KiB gzipped', async () => {
  let total = 0;
  const lines = [];
  for (const name of RUNTIME_FILES) {
    const { bytes } = await served(name);
    const gzipped = gzipSync(bytes, { level: 9 }).length;
    total += gzipped;
    lines.push(`${name}: ${bytes.length} bytes, ${gzipped} gzipped`);
  }
  const css = gzipSync((await served('resumable-widget.css')).bytes, { level: 9 }).length;
  console.log(`${lines.join('; ')}; total JS + wasm ${(total / 1024).toFixed(1)} KiB gzipped (stylesheet ${css} bytes more)`);
  assert.ok(total <= SIZE_BUDGET_BYTES, `${total} bytes gzipped exceed the budget of ${SIZE_BUDGET_BYTES}`);
});

test('the server serves every widget file with its proper content type', async () => {
  const expected = {
    'resumable-widget.js': /^text\/javascript/, 'resumable-widget.mjs': /^text\/javascript/,
    'resumable-hash-worker.js': /^text\/javascript/, 'resumable-widget.css': /^text\/css/,
    'resumable_core.js': /^text\/javascript/, 'resumable_core.wasm': /^application\/wasm$/,
  };
  for (const [name, type] of Object.entries(expected)) assert.match((await served(name)).type, type, name);
});

test('imported as an ES module, the widget exports its API and enhances the page', async () => {
  const context = await openContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}/tests/browser/pages/widget-module.html`);
  await page.waitForFunction(() => window.moduleInfo);
  const info = await page.evaluate(() => window.moduleInfo);
  assert.equal(info.version, '0.1.0');
  assert.ok(info.sameAsGlobal && info.functions);
  assert.ok(info.exports.includes('default') && info.exports.includes('Uploader'));

  const path = join(dir, 'module.txt');
  writeFileSync(path, 'uploaded through the module build\n'.repeat(1000));
  await page.setInputFiles('#document', path);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 60000 });
  await page.click('#send');
  await page.waitForURL(/submitted\.html/);
  const claimed = await claim(server, new URL(page.url()).searchParams.get('document'));
  assert.equal(claimed.body.fileDigest, referenceDigest(path));
  await context.close();
});

test('the TypeScript declarations name every export of the module', async () => {
  const declarations = readFileSync(join(process.env.RESUMABLE_SOURCE_DIR, 'widget/resumable-widget.d.ts'), 'utf8');
  const declared = new Set([...declarations.matchAll(/^export declare (?:class|function|const) (\w+)/gm)].map((m) => m[1]));
  const context = await openContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}/tests/browser/pages/widget-module.html`);
  await page.waitForFunction(() => window.moduleInfo);
  const exported = (await page.evaluate(() => window.moduleInfo.exports)).filter((name) => name !== 'default');
  assert.deepEqual(exported.filter((name) => !declared.has(name)), [], 'exports without a declaration');
  assert.match(declarations, /export default ResumableWidget;/);
  await context.close();
});
