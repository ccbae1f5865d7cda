// The widget on a page of one origin, its files from a second and the endpoint on a third (issue 18,
// item 6): the page needs nothing but the script tag and data-resumable. The Worker then starts from
// a Blob (browsers start Workers only from the page's origin) and loads the widget's files from
// their own origin with CORS; the uploads go to the endpoint with CORS, and a refusal is reported
// as a failure, not retried for ever. All three origins are 127.0.0.1 on different ports:
//   pages     a node server in this test (origin A), optionally with a Content-Security-Policy
//   assets    a resumable_test_server whose /upload/widget/ serves the widget (origin B); its own
//             endpoint allows no other origin
//   endpoint  a resumable_test_server allowing origin A (origin C)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { referenceDigest, removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, USER, claim, launchBrowser, serverJson, startTestServer } from './widget_support.mjs';

const NONCE = 'cross-origin-test';
let dir, pages, assets, endpoint, browser;

// Serves the pages the tests register: path → {html, headers}; /submitted shows where a form went.
async function startPageServer() {
  const routes = new Map();
  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://127.0.0.1');
    const route = url.pathname === '/submitted'
      ? { html: '<!doctype html><title>Submitted</title><p id="submitted">The form was sent.</p>' }
      : routes.get(url.pathname);
    if (!route) {
      response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', ...route.headers });
    response.end(route.html);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    page(path, html, headers = {}) { routes.set(path, { html, headers }); return origin + path; },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// A form whose file field is the widget, loaded by a classic script tag from `scriptOrigin`, uploading
// to `endpointUrl`; the principal travels in X-Test-User, set through configure() (a header the
// browser must ask the endpoint about in a preflight). Widget events are collected in window.events.
function formPage({ scriptOrigin, endpointUrl, chunkSize = '1MiB', attributes = '' }) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cross-origin form</title></head>
<body>
  <form id="report" method="get" action="/submitted">
    <label for="attachment">Attachment</label>
    <input type="file" id="attachment" name="attachment" data-resumable="${endpointUrl}" data-resumable-chunk-size="${chunkSize}" ${attributes}required>
    <button type="submit" id="send">Send</button>
  </form>
  <script src="${scriptOrigin}/upload/widget/resumable-widget.js"></script>
  <script nonce="${NONCE}">
    ResumableWidget.configure({ headers: { 'X-Test-User': '${USER}' } });
    window.events = [];
    ['file-success', 'file-error', 'file-retry'].forEach(function (type) {
      document.addEventListener(type, function (event) {
        var error = event.detail.error;
        window.events.push({ type: type, code: error ? error.code : null, message: error ? error.message : null,
          token: event.detail.result ? event.detail.result.token : null });
      });
    });
  </script>
</body></html>`;
}

// The same with the ES module, imported from `scriptOrigin`.
function modulePage({ scriptOrigin, endpointUrl }) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cross-origin module</title></head>
<body>
  <form id="module-form" method="get" action="/submitted">
    <label for="document">Document</label>
    <input type="file" id="document" name="document" data-resumable="${endpointUrl}">
    <button type="submit" id="send">Send</button>
  </form>
  <script type="module" nonce="${NONCE}">
    import { configure, version } from '${scriptOrigin}/upload/widget/resumable-widget.mjs';
    configure({ headers: { 'X-Test-User': '${USER}' } });
    window.moduleVersion = version;
  </script>
</body></html>`;
}

// Where the page's requests went, and the URLs of the Workers it started.
function recordTraffic(page) {
  const traffic = { requests: [], workers: [] };
  page.on('request', (request) => traffic.requests.push({ url: new URL(request.url()), method: request.method(), request }));
  page.on('worker', (worker) => traffic.workers.push(worker.url()));
  return traffic;
}

const originOf = (server) => new URL(server.url).origin;

before(async () => {
  dir = scratchDir('widget-cross-origin');
  pages = await startPageServer();
  assets = await startTestServer({ dataDir: join(dir, 'assets-data') });
  endpoint = await startTestServer({ dataDir: join(dir, 'endpoint-data'), args: ['--allowed-origins', pages.origin] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const codes = [await assets?.stop(), await endpoint?.stop()];
  await pages?.close();
  removeDir(dir);
  assert.deepEqual(codes, [0, 0], 'the test servers exit cleanly on SIGTERM');
});

test('three origins: a page, the widget\'s files and the endpoint; the stored file is byte-identical', async () => {
  const url = pages.page('/form.html', formPage({ scriptOrigin: originOf(assets), endpointUrl: `${endpoint.url}/upload` }));
  const path = join(dir, 'cross-origin.bin');
  const size = 5 * MiB + 12345;
  await writeRandomFile(path, size);
  const digest = referenceDigest(path);
  const context = await browser.newContext();
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  await page.goto(url);
  await page.setInputFiles('#attachment', path);
  const row = page.locator('.rsm-file');
  await page.locator('.rsm-file[data-state="done"], .rsm-file[data-state="failed"]').waitFor({ timeout: 120000 });
  assert.equal(await row.getAttribute('data-state'), 'done', `the widget reports success (${await row.locator('.rsm-file-detail').textContent()})`);
  const events = await page.evaluate(() => window.events);
  assert.deepEqual(events.filter((e) => e.type !== 'file-success'), [], 'no retries, no errors');
  assert.equal(events.filter((e) => e.type === 'file-success').length, 1);

  // The Worker came from a Blob, and everything it loaded from the widget's own origin.
  assert.equal(traffic.workers.length, 1);
  assert.match(traffic.workers[0], new RegExp(`^blob:${pages.origin}/`), 'the Worker starts from a same-origin Blob');
  const loaded = (name) => traffic.requests.filter((r) => r.url.pathname === `/upload/widget/${name}`).map((r) => r.url.origin);
  for (const name of ['resumable-widget.js', 'resumable-hash-worker.js', 'resumable_core.js', 'resumable_core.wasm']) {
    assert.deepEqual(loaded(name), [originOf(assets)], `${name} is loaded once, from the widget's origin`);
  }
  // The upload's requests went to the endpoint's origin, each saying the page's origin.
  const uploads = traffic.requests.filter((r) => r.url.pathname.startsWith('/upload') && !r.url.pathname.startsWith('/upload/widget/'));
  assert.ok(uploads.length >= 6, 'a status request and five chunks');
  for (const r of uploads) {
    assert.equal(r.url.origin, originOf(endpoint), `${r.method} ${r.url.pathname} goes to the endpoint`);
    if (r.method !== 'OPTIONS') assert.equal((await r.request.allHeaders()).origin, pages.origin);
  }
  assert.deepEqual(await serverJson(assets, 'GET', '/test/uploads').then((r) => r.body), [], 'the widget\'s origin holds no upload');

  await page.click('#send');
  await page.waitForURL(/\/submitted\?/);
  const token = new URL(page.url()).searchParams.get('attachment');
  assert.equal(token, events.find((e) => e.type === 'file-success').token);
  const claimed = await claim(endpoint, token);
  assert.equal(claimed.status, 200);
  assert.equal(claimed.body.size, size);
  assert.equal(claimed.body.fileDigest, digest);
  assert.equal(referenceDigest(claimed.body.path), digest, 'the stored bytes equal the local file');
  unlinkSync(claimed.body.path);
  unlinkSync(path);
  await context.close();
});

test('the ES module imported from the widget\'s origin uploads to the endpoint\'s', async () => {
  const url = pages.page('/module.html', modulePage({ scriptOrigin: originOf(assets), endpointUrl: `${endpoint.url}/upload` }));
  const path = join(dir, 'module.txt');
  writeFileSync(path, 'uploaded through the module from another origin\n'.repeat(5000));
  const context = await browser.newContext();
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  await page.goto(url);
  await page.waitForFunction(() => window.moduleVersion);
  await page.setInputFiles('#document', path);
  await page.locator('.rsm-file[data-state="done"], .rsm-file[data-state="failed"]').waitFor({ timeout: 60000 });
  assert.equal(await page.locator('.rsm-file').getAttribute('data-state'), 'done');
  assert.match(traffic.workers[0], /^blob:/);
  await page.click('#send');
  await page.waitForURL(/\/submitted\?/);
  const claimed = await claim(endpoint, new URL(page.url()).searchParams.get('document'));
  assert.equal(claimed.status, 200);
  assert.equal(referenceDigest(claimed.body.path), referenceDigest(path));
  await context.close();
});

test('an endpoint that does not allow the page\'s origin fails the file with a clear message, promptly', async () => {
  // The assets server's own endpoint allows no other origin.
  const url = pages.page('/refused.html', formPage({ scriptOrigin: originOf(assets), endpointUrl: `${assets.url}/upload` }));
  const path = join(dir, 'refused.bin');
  await writeRandomFile(path, 2 * MiB);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  const started = Date.now();
  await page.setInputFiles('#attachment', path);
  const row = page.locator('.rsm-file');
  // Backoff from 500 ms: the third refused request comes about 1-2 s after the first.
  await page.locator('.rsm-file[data-state="failed"], .rsm-file[data-state="done"]').waitFor({ timeout: 30000 });
  const seconds = (Date.now() - started) / 1000;
  assert.equal(await row.getAttribute('data-state'), 'failed');
  assert.equal(await row.locator('.rsm-file-state').textContent(), 'Failed');
  assert.equal(await row.locator('.rsm-file-detail').textContent(),
    `The upload server ${originOf(assets)} does not accept uploads from this page (it does not allow this site's origin).`);
  const events = await page.evaluate(() => window.events);
  assert.deepEqual(events.map((e) => [e.type, e.code]), [
    ['file-retry', 'cross_origin_refused'], ['file-retry', 'cross_origin_refused'], ['file-error', 'cross_origin_refused']]);
  assert.ok(seconds < 20, `failed after ${seconds.toFixed(1)} s`);
  assert.deepEqual((await serverJson(assets, 'GET', '/test/uploads')).body, [], 'nothing was stored');
  // Submitting is refused: the field has no finished upload.
  await page.click('#send');
  assert.equal(await page.locator('.rsm-notice').textContent(), 'An upload failed: retry or remove it before sending the form.');
  assert.ok(!page.url().includes('/submitted'));
  await context.close();
  unlinkSync(path);
});

test('a page on its widget\'s own origin still starts the Worker from its URL, not from a Blob', async () => {
  const context = await browser.newContext({ extraHTTPHeaders: { 'X-Test-User': USER } });
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  await page.goto(`${assets.url}/tests/browser/pages/widget-form.html`);
  const path = join(dir, 'same-origin.txt');
  writeFileSync(path, 'same origin\n'.repeat(1000));
  await page.setInputFiles('#attachment', path);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 60000 });
  assert.deepEqual(traffic.workers, [`${assets.url}/upload/widget/resumable-hash-worker.js`]);
  await context.close();
  unlinkSync(path);
});

test('a relative assetBase is resolved against the page: the same-origin Worker starts from its URL', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const traffic = recordTraffic(page);
  await page.goto(`${assets.url}/tests/browser/pages/widget-api.html`);
  const path = join(dir, 'relative.txt');
  writeFileSync(path, 'hashed with a relative asset base\n');
  await page.setInputFiles('#picker', path);
  const digest = await page.evaluate(() => ResumableWidget.hashFile(document.getElementById('picker').files[0],
    { assetBase: '/upload/widget' }).then((result) => result.fileDigest));
  assert.equal(digest, referenceDigest(path));
  assert.deepEqual(traffic.workers, [`${assets.url}/upload/widget/resumable-hash-worker.js`]);
  await context.close();
  unlinkSync(path);
});

// The policy widget/README.md documents for a strict page using the widget from another origin.
const strictPolicy = ({ worker }) => [
  "default-src 'none'",
  `script-src 'nonce-${NONCE}' ${originOf(assets)} 'wasm-unsafe-eval'`,
  `worker-src ${worker}`,
  `connect-src ${originOf(assets)} ${originOf(endpoint)}`,
  `style-src ${originOf(assets)}`,
  "form-action 'self'",
].join('; ');

test('under the strict Content-Security-Policy the README documents, the cross-origin widget works', async () => {
  const url = pages.page('/strict.html', formPage({ scriptOrigin: originOf(assets), endpointUrl: `${endpoint.url}/upload` }),
    { 'Content-Security-Policy': strictPolicy({ worker: 'blob:' }) });
  const path = join(dir, 'strict.bin');
  await writeRandomFile(path, 3 * MiB + 5);
  const context = await browser.newContext();
  const page = await context.newPage();
  const violations = [];
  page.on('console', (message) => { if (/Content Security Policy/i.test(message.text())) violations.push(message.text()); });
  await page.goto(url);
  await page.setInputFiles('#attachment', path);
  await page.locator('.rsm-file[data-state="done"], .rsm-file[data-state="failed"]').waitFor({ timeout: 60000 });
  assert.equal(await page.locator('.rsm-file').getAttribute('data-state'), 'done', await page.locator('.rsm-file-detail').textContent());
  assert.deepEqual(violations, [], 'nothing the widget does is blocked');
  // The stylesheet from the widget's origin applies (style-src): the native input is hidden by it.
  assert.equal(await page.locator('#attachment').evaluate((input) => getComputedStyle(input).position), 'absolute');
  await page.click('#send');
  await page.waitForURL(/\/submitted\?/);
  const claimed = await claim(endpoint, new URL(page.url()).searchParams.get('attachment'));
  assert.equal(referenceDigest(claimed.body.path), referenceDigest(path));
  await context.close();
  unlinkSync(path);
});

test('a policy that does not allow blob: Workers fails the file with a clear message', async () => {
  const url = pages.page('/no-blob.html', formPage({ scriptOrigin: originOf(assets), endpointUrl: `${endpoint.url}/upload` }),
    { 'Content-Security-Policy': strictPolicy({ worker: "'self'" }) });
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(url);
  const path = join(dir, 'no-blob.txt');
  writeFileSync(path, 'blocked\n'.repeat(100));
  await page.setInputFiles('#attachment', path);
  await page.locator('.rsm-file[data-state="failed"], .rsm-file[data-state="done"]').waitFor({ timeout: 30000 });
  assert.equal(await page.locator('.rsm-file').getAttribute('data-state'), 'failed');
  assert.match(await page.locator('.rsm-file-detail').textContent(), /^The uploader could not start on this page \(.+\)\.$/);
  assert.deepEqual(await page.evaluate(() => window.events.map((e) => e.code)), ['worker_failed']);
  await context.close();
  unlinkSync(path);
});

test('withCredentials (data-resumable-with-credentials) decides whether cookies go to the endpoint', async () => {
  const credentialed = await startTestServer({ dataDir: join(dir, 'credentialed-data'),
    args: ['--allowed-origins', pages.origin, '--cors-credentials', '1'] });
  const context = await browser.newContext();
  try {
    // Ports do not separate cookies: this one is the endpoint's as much as the page's.
    await context.addCookies([{ name: 'session', value: 'cookie-for-the-endpoint', domain: '127.0.0.1', path: '/', sameSite: 'Lax' }]);
    async function upload(name, target, attributes) {
      const path = join(dir, `${name}.txt`);
      writeFileSync(path, `${name}\n`.repeat(2000));
      const url = pages.page(`/${name}.html`, formPage({ scriptOrigin: originOf(assets), endpointUrl: `${target.url}/upload`, attributes }));
      const page = await context.newPage();
      const traffic = recordTraffic(page);
      await page.goto(url);
      await page.setInputFiles('#attachment', path);
      await page.locator('.rsm-file[data-state="done"], .rsm-file[data-state="failed"]').waitFor({ timeout: 30000 });
      const state = await page.locator('.rsm-file').getAttribute('data-state');
      const codes = await page.evaluate(() => window.events.filter((e) => e.type === 'file-error').map((e) => e.code));
      const cookies = [];
      // The status request and the chunk (preflights never carry cookies).
      const requests = traffic.requests.filter((r) => r.url.origin === originOf(target) && r.method !== 'OPTIONS' &&
        (r.url.pathname === '/upload' || r.url.pathname === '/upload/status'));
      for (const r of requests) {
        cookies.push((await r.request.allHeaders()).cookie ?? null);
      }
      await page.close();
      unlinkSync(path);
      return { state, codes, cookies };
    }
    const withCookies = await upload('with-credentials', credentialed, 'data-resumable-with-credentials ');
    assert.equal(withCookies.state, 'done');
    assert.equal(withCookies.cookies.length, 2);
    assert.deepEqual(withCookies.cookies, ['session=cookie-for-the-endpoint', 'session=cookie-for-the-endpoint'], 'both requests carry the cookie');

    const without = await upload('without-credentials', credentialed, '');
    assert.equal(without.state, 'done');
    assert.deepEqual(without.cookies, [null, null], 'neither request carries a cookie');

    // An endpoint that allows the origin but not credentials: the browser keeps its replies from the page.
    const refused = await upload('credentials-refused', endpoint, 'data-resumable-with-credentials ');
    assert.equal(refused.state, 'failed');
    assert.deepEqual(refused.codes, ['cross_origin_refused']);
  } finally {
    await context.close();
    assert.equal(await credentialed.stop(), 0);
  }
});
