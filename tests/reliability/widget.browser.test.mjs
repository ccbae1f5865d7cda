// The widget in Chromium, (1) uploading through the fault-injecting proxy: every file ends
// byte-identical, every flipped chunk is refused and sent again; (2) showing hostile file names: the
// names appear as text, nothing they contain is ever parsed as markup or run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { FaultProxy, FAULTS } from './fault_proxy.mjs';
import { HOSTILE_NAMES } from './hostile_names.mjs';
import { KiB, MiB, artifactsDir, b2sum256, claim, referenceDigest, reportFigures, rmSync, rng, scratchDir, startServer, writeRandomFile } from './support.mjs';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const SEED = Number(process.env.RESUMABLE_FAULT_SEED ?? 4242);
const random = rng(SEED);
let dir, server, proxy, browser;

before(async () => {
  dir = scratchDir('widget');
  server = await startServer({ dataDir: join(dir, 'data'), args: ['--durable', '0', '--threads', '24', '--max-uploads-per-principal', '1000'] });
  proxy = await new FaultProxy({
    target: () => server.port, random,
    decide: () => (random() < 0.3 ? random.pick(['drop', 'reset', 'stall', 'truncate', 'truncate-response', 'flip', 'flip', 'stall-abort']) : null),
    stallMs: [20, 300], stallAbortMs: 3500,
  }).listen();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  await proxy?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('the widget uploads through the fault proxy: all files identical, all corruptions refused', { timeout: 600000 }, async () => {
  const sizes = [1, 300 * KiB + 7, 3 * MiB + 1, 9 * MiB, 17 * MiB + 5];
  const paths = sizes.map((size, i) => {
    const path = join(dir, `w${i}.bin`);
    writeRandomFile(path, size);
    return path;
  });
  const context = await browser.newContext({ extraHTTPHeaders: { 'X-Test-User': 'alice' } });
  const page = await context.newPage();
  await page.goto(`${proxy.url}/tests/browser/pages/widget-api.html`);
  await page.setInputFiles('#picker', paths);
  const started = Date.now();
  await page.evaluate(() => window.uploadPicked({ chunkSize: 262144, simultaneousUploads: 4, retryDelay: 20, maxRetryDelay: 250, maxRetries: 80, stallTimeout: 2500 }));
  await page.waitForFunction((n) => window.eventsOf('file-success').length + window.eventsOf('file-error').length >= n, sizes.length, { timeout: 540000 });
  const seconds = (Date.now() - started) / 1000;
  const errors = await page.evaluate(() => window.eventsOf('file-error').map((e) => `${e.name}: ${e.error?.message ?? e.message}`));
  assert.deepEqual(errors, [], 'no file failed');
  const successes = await page.evaluate(() => window.eventsOf('file-success').map((e) => ({ name: e.name, result: e.result })));
  const retries = await page.evaluate(() => window.eventsOf('file-retry').length);
  let identical = 0;
  for (const { name, result } of successes) {
    const path = join(dir, name);
    assert.equal(result.fileDigest, referenceDigest(path));
    const c = await claim(server.url, result.token);
    assert.equal(c.status, 200);
    assert.equal(b2sum256(c.json.path), b2sum256(path), `${name} is byte-identical`);
    identical++;
    rmSync(c.json.path);
  }
  const records = proxy.records.filter((r) => r.method === 'POST');
  const injected = Object.fromEntries(FAULTS.map((f) => [f, records.filter((r) => r.fault === f).length]));
  const flips = records.filter((r) => r.fault === 'flip');
  const refused = flips.filter((r) => r.error === 'chunk_digest_mismatch').length;
  for (const r of flips) {
    assert.ok(!(r.status === 200 && r.replyStatus === 'chunk_stored' && !r.duplicate), `a flipped chunk was stored: ${JSON.stringify(r)}`);
  }
  reportFigures('faults.widget', { seed: SEED, uploads: sizes.length, identical, seconds: +seconds.toFixed(1), chunkRequests: records.length,
    faultsInjected: records.filter((r) => r.fault).length, injected, flips: flips.length, flipsRefusedByDigest: refused, widgetRetries: retries });
  assert.equal(identical, sizes.length);
  assert.ok(records.filter((r) => r.fault).length >= 5, 'faults were injected');
  await context.close();
});

test('hostile file names are shown as text by the widget; none is parsed as markup or run', { timeout: 300000 }, async () => {
  // File names a browser can carry: no '/', no NUL, not '.' or '..', at most 255 bytes.
  const names = [...new Set(HOSTILE_NAMES)].filter((n) => !n.includes('/') && !n.includes('\u0000') && n !== '.' && n !== '..' &&
    Buffer.byteLength(n) <= 200 && n.trim() === n && n.length > 0);
  const context = await browser.newContext({ extraHTTPHeaders: { 'X-Test-User': 'alice' } });
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  await page.goto(`${server.url}/tests/browser/pages/widget-form.html?multiple=1&max-files=500`);
  const files = names.map((name, i) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(`file ${i}\n`) }));
  const accepted = [];
  for (let i = 0; i < files.length; i += 25) {
    try {
      await page.setInputFiles('#attachment', files.slice(i, i + 25));
      accepted.push(...files.slice(i, i + 25).map((f) => f.name));
    } catch (error) {
      // Playwright refuses some names for the temporary files it writes; try those one by one.
      for (const f of files.slice(i, i + 25)) {
        try { await page.setInputFiles('#attachment', [f]); accepted.push(f.name); } catch { /* not a valid local file name */ }
      }
    }
  }
  await page.waitForFunction((n) => document.querySelectorAll('.rsm-file-name').length >= n, accepted.length, { timeout: 120000 });
  const shown = await page.evaluate(() => [...document.querySelectorAll('.rsm-file-name')].map((e) => e.textContent));
  const injected = await page.evaluate(() => ({
    pwned: window.__pwned ?? null,
    elements: document.querySelectorAll('.rsm-file img, .rsm-file svg, .rsm-file iframe, .rsm-file script, .rsm-file b').length,
  }));
  await page.screenshot({ path: join(artifactsDir(), 'widget-hostile-names.png'), fullPage: false });
  writeFileSync(join(artifactsDir(), 'widget-hostile-names.json'), JSON.stringify({ accepted, shown }, null, 1));
  reportFigures('names.widget', { namesTried: names.length, namesAcceptedByBrowser: accepted.length, shown: shown.length, dialogs: dialogs.length, ...injected });
  assert.equal(injected.pwned, null, 'no script from a name ran');
  assert.equal(injected.elements, 0, 'no element from a name was created');
  assert.deepEqual(dialogs, []);
  for (const name of accepted) assert.ok(shown.includes(name), `the name ${JSON.stringify(name)} is shown as text`);
  await context.close();
});
