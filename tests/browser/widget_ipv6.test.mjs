// The widget over IPv6 loopback (issue 14): the test server listens on [::1] only, the page and the
// upload come from http://[::1]:PORT/, and the claimed file has the tree digest of the original.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { referenceDigest, removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, claim, launchBrowser, openContext, startTestServer } from './widget_support.mjs';

let dir, server, browser;

before(async () => {
  dir = scratchDir('widget-ipv6');
  server = await startTestServer({ dataDir: join(dir, 'data'), args: ['--host', '::1'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0, 'the test server exits cleanly on SIGTERM');
});

test('a 3 MiB file uploads in 1 MiB chunks to a server on [::1]', async () => {
  assert.match(server.url, /^http:\/\/\[::1\]:\d+$/);
  await assert.rejects(fetch(`http://127.0.0.1:${server.port}/test/stats`), 'nothing listens on IPv4 loopback');
  const path = join(dir, 'three.bin');
  await writeRandomFile(path, 3 * MiB + 99);
  const context = await openContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}/tests/browser/pages/widget-api.html`);
  await page.setInputFiles('#picker', path);
  await page.evaluate(() => window.uploadPicked({ chunkSize: 1048576 }));
  await page.waitForFunction(() => window.eventsOf('file-success').length > 0 || window.eventsOf('file-error').length > 0);
  assert.deepEqual(await page.evaluate(() => window.eventsOf('file-error')), [], 'no file failed');
  const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
  assert.equal(result.chunkCount, 3);
  const claimed = await claim(server, result.token);
  assert.equal(claimed.status, 200);
  assert.equal(referenceDigest(claimed.body.path), referenceDigest(path));
  await context.close();
});
