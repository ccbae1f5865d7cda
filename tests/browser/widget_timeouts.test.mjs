// The widget's timeouts and backoff, measured on the wire (issue 18, item 8): a chunk request whose
// body stops moving is abandoned after stallTimeout, one whose reply does not come after
// responseTimeout, and both are retried; retry delays grow exponentially from retryDelay, stay
// within maxRetryDelay and carry jitter; a Retry-After (seconds, or an HTTP date) is waited out, up
// to maxRetryAfter. The endpoint is a scripted one in this test (the real protocol's replies, with
// each chunk request answered, stalled or left unanswered as the test says), on the page's own
// origin; it also serves the page and the built widget. Times are taken on the server when requests
// arrive and replies leave, and every assertion is a bound with a margin, never an exact time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, launchBrowser } from './widget_support.mjs';

// Timers in the browser never fire early, and a reply's time is taken before it is written, so a
// wait measured from a reply is never shorter than the widget's but for timer granularity: this much.
const EARLY_MS = 50;
// A wait measured from an event this process only notices (a request arriving, a body's last byte
// read) is shorter than the widget's by how late it noticed it: on a busy machine (2 cores shared
// with builds) that has been over 50 ms. Still far from a wait that a wrong timer would give.
const NOTICED_LATE_MS = 500;
// And this much longer, on a loaded machine (2 cores shared with other builds).
const LATE_MS = 1500;

const TYPES = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.html': 'text/html' };
const typeOf = (name) => TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

// The endpoint. Chunk POSTs follow `plan`, one entry per request in arrival order (then 'store'):
//   'store'   read the body, answer chunk_stored, or the final result for the last chunk
//   'stall'   read nothing of the body and never answer
//   'silent'  read the whole body and never answer
//   {status, headers, body}   read the body, answer that (body as JSON)
// Every chunk request is logged with when it arrived, when its body ended, when its reply was about
// to be written and when the connection closed (performance.now() of this process; `wall` is Date.now() at arrival).
class ScriptedEndpoint {
  constructor() {
    this.plan = [];
    this.log = [];
    this.sockets = new Set();
    this.server = createServer((request, response) => this.handle(request, response));
    this.server.on('connection', (socket) => { this.sockets.add(socket); socket.on('close', () => this.sockets.delete(socket)); });
  }

  async listen() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  reset(plan) {
    this.plan = plan;
    this.log = [];
  }

  close() {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(resolve));
  }

  handle(request, response) {
    const url = new URL(request.url, this.url);
    if (request.method === 'GET' && url.pathname.startsWith('/upload/widget/')) {
      const name = url.pathname.slice('/upload/widget/'.length);
      return this.file(response, join(process.env.RESUMABLE_WIDGET_DIR, name), typeOf(name));
    }
    if (request.method === 'GET' && url.pathname === '/tests/browser/pages/widget-api.html') {
      return this.file(response, join(process.env.RESUMABLE_SOURCE_DIR, url.pathname), 'text/html');
    }
    if (url.pathname === '/upload/status') {
      return this.json(response, 404, { status: 'error', error: 'upload_not_found', message: 'No such upload.', retryable: false });
    }
    if (url.pathname === '/upload' && request.method === 'POST') return this.chunk(request, response, url.searchParams);
    if (url.pathname === '/upload' && request.method === 'DELETE') return response.writeHead(204).end();
    return this.json(response, 404, { status: 'error', error: 'not_found', message: 'Not found.', retryable: false });
  }

  file(response, path, type) {
    let bytes;
    try { bytes = readFileSync(path); } catch { return response.writeHead(404).end(); }
    response.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(bytes);
  }

  json(response, status, body, headers = {}) {
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  }

  chunk(request, response, query) {
    const behaviour = this.plan[this.log.length] ?? 'store';
    const entry = { behaviour, number: Number(query.get('resumableChunkNumber')), arrived: performance.now(), wall: Date.now(),
      bodyEnded: null, replied: null, closed: null, received: 0 };
    this.log.push(entry);
    request.socket.once('close', () => { entry.closed = performance.now(); });
    if (behaviour === 'stall') {
      request.pause();  // nothing more is read from the connection: the client's sending stops
      return;
    }
    request.on('data', (data) => { entry.received += data.length; });
    request.on('end', () => {
      entry.bodyEnded = performance.now();
      if (behaviour === 'silent') return;
      // Before the reply is written: the client cannot have it any earlier.
      entry.replied = performance.now();
      if (typeof behaviour === 'object') {
        const headers = typeof behaviour.headers === 'function' ? behaviour.headers() : behaviour.headers;
        return this.json(response, behaviour.status, behaviour.body, headers);
      }
      const total = Number(query.get('resumableTotalChunks'));
      if (entry.number < total) return this.json(response, 200, { status: 'chunk_stored', duplicate: false });
      this.json(response, 200, {
        status: 'complete', token: 'f'.repeat(64), identifier: query.get('resumableIdentifier'),
        fileName: query.get('resumableFilename'), size: Number(query.get('resumableTotalSize')), chunkCount: total,
        fileDigest: query.get('fileDigest'), digestAlgorithm: 'rsm-tree-v1',  // the widget compares it with its own digest of the file
      });
    });
  }
}

const retryable = (status, error) => ({ status, body: { status: 'error', error, message: `Try again (${error}).`, retryable: true } });

let dir, endpoint, browser, context;

before(async () => {
  dir = scratchDir('widget-timeouts');
  endpoint = await new ScriptedEndpoint().listen();
  browser = await launchBrowser();
  context = await browser.newContext();
});

after(async () => {
  await browser?.close();
  await endpoint?.close();
  removeDir(dir);
});

// Uploads `path` with the Uploader options given, the endpoint following `plan`; resolves once the
// file succeeded or failed, with the Uploader's retry events ({chunk, attempt, delay, code}).
async function uploadWith(path, plan, options) {
  endpoint.reset(plan);
  const page = await context.newPage();
  await page.goto(`${endpoint.url}/tests/browser/pages/widget-api.html`);
  await page.setInputFiles('#picker', path);
  await page.evaluate((opts) => {
    window.retries = [];
    const uploader = window.uploadPicked(opts);
    uploader.on('file-retry', (detail) => window.retries.push({ chunk: detail.chunk, attempt: detail.attempt, delay: detail.delay,
      code: detail.error && detail.error.code }));
  }, options);
  await page.waitForFunction(() => window.eventsOf('file-success').length + window.eventsOf('file-error').length > 0, null, { timeout: 60000 });
  const outcome = await page.evaluate(() => ({ errors: window.eventsOf('file-error').map((e) => e.error), retries: window.retries }));
  await page.close();
  return { ...outcome, log: endpoint.log };
}

const within = (value, low, high, what) => assert.ok(value >= low && value <= high, `${what}: ${Math.round(value)} ms, expected ${low}…${high}`);

test('a chunk whose body stops moving is abandoned after stallTimeout and sent again', async () => {
  const path = join(dir, 'stall.bin');
  // Larger than what the sockets' buffers take in once the server stops reading.
  await writeRandomFile(path, 40 * MiB);
  const stallTimeout = 1000;
  const { errors, retries, log } = await uploadWith(path, ['stall'],
    { chunkSize: 64 * MiB, stallTimeout, responseTimeout: 60000, retryDelay: 50, maxRetryDelay: 100 });
  assert.deepEqual(errors, []);
  assert.equal(log.length, 2, 'one stalled attempt, one that succeeded');
  assert.deepEqual(retries.map((r) => [r.chunk, r.code]), [[1, 'timeout']]);
  assert.ok(log[0].received < 40 * MiB, 'the stalled attempt never delivered its body');
  // The widget gives up stallTimeout after the last byte moved (which was after the headers
  // arrived, and at most as long after as the sockets' buffers took to fill), then waits at most
  // maxRetryDelay before sending the chunk again.
  within(log[1].arrived - log[0].arrived, stallTimeout - NOTICED_LATE_MS, stallTimeout + 2000 + 100 + LATE_MS, 'retry of the stalled request after');
  assert.equal(log[1].received, 40 * MiB, 'the retry sends the whole chunk');
});

test('a chunk whose reply does not come is abandoned after responseTimeout, not stallTimeout, and sent again', async () => {
  const path = join(dir, 'silent.bin');
  await writeRandomFile(path, 3 * MiB);
  // The body is all sent at once on loopback: from then on only responseTimeout may end the request,
  // although stallTimeout is shorter and no upload progress happens after the body.
  const responseTimeout = 1500;
  const { errors, retries, log } = await uploadWith(path, ['silent'],
    { chunkSize: 4 * MiB, stallTimeout: 300, responseTimeout, retryDelay: 50, maxRetryDelay: 100 });
  assert.deepEqual(errors, []);
  assert.equal(log.length, 2);
  assert.deepEqual(retries.map((r) => [r.chunk, r.code]), [[1, 'timeout']]);
  assert.equal(log[0].received, 3 * MiB, 'the server read the whole body of the unanswered request');
  // Abandoned (the widget closes the connection) responseTimeout after the body was through…
  within(log[0].closed - log[0].bodyEnded, responseTimeout - NOTICED_LATE_MS, responseTimeout + LATE_MS, 'unanswered request abandoned after');
  // …and sent again within maxRetryDelay.
  within(log[1].arrived - log[0].bodyEnded, responseTimeout - NOTICED_LATE_MS, responseTimeout + 100 + LATE_MS, 'retry of the unanswered request after');
});

test('retry delays double from retryDelay up to maxRetryDelay, with jitter', async () => {
  const path = join(dir, 'backoff.bin');
  writeFileSync(path, 'backoff\n'.repeat(1000));
  const failures = 8;
  const retryDelay = 100;
  const maxRetryDelay = 800;
  const { errors, retries, log } = await uploadWith(path, Array(failures).fill(retryable(500, 'storage_error')),
    { retryDelay, maxRetryDelay, maxRetries: 20 });
  assert.deepEqual(errors, []);
  assert.equal(log.length, failures + 1);
  assert.deepEqual(retries.map((r) => r.attempt), Array.from({ length: failures }, (_, i) => i + 1));
  const delays = retries.map((r) => r.delay);
  for (let k = 0; k < failures; k++) {
    // "Equal jitter": attempt k waits a random time in [ceiling/2, ceiling], ceiling = min(max, base·2^(k−1)).
    const ceiling = Math.min(maxRetryDelay, retryDelay * 2 ** k);
    within(delays[k], ceiling / 2, ceiling, `delay the widget chose before attempt ${k + 2}`);
    // On the wire: from the failed reply leaving the server to the next attempt arriving.
    const gap = log[k + 1].arrived - log[k].replied;
    within(gap, Math.max(ceiling / 2, delays[k]) - EARLY_MS, delays[k] + LATE_MS, `measured wait before attempt ${k + 2}`);
  }
  // Growth: each ceiling's lower half starts where the previous ceiling ends, so the bounds above
  // already order them; the waits at the cap are random, not one fixed value.
  const capped = delays.filter((_, k) => retryDelay * 2 ** k >= maxRetryDelay);
  assert.ok(capped.length >= 4);
  assert.ok(new Set(capped).size > 1, `jitter: the capped delays differ (${capped})`);
  const fractions = delays.map((d, k) => d / Math.min(maxRetryDelay, retryDelay * 2 ** k));
  assert.ok(new Set(fractions.map((f) => f.toFixed(3))).size > 1, `jitter: not the same fraction of each ceiling (${fractions})`);
  console.log(`retry delays: ${delays.join(', ')} ms`);
});

test('Retry-After in seconds on a 503 is waited out, beyond maxRetryDelay', async () => {
  const path = join(dir, 'retry-after-seconds.bin');
  writeFileSync(path, 'retry after seconds\n'.repeat(500));
  const { errors, retries, log } = await uploadWith(path, [{ ...retryable(503, 'chunk_busy'), headers: { 'Retry-After': '2' } }],
    { retryDelay: 50, maxRetryDelay: 200 });
  assert.deepEqual(errors, []);
  assert.equal(log.length, 2);
  assert.deepEqual(retries.map((r) => [r.code, r.delay]), [['chunk_busy', 2000]]);
  within(log[1].arrived - log[0].replied, 2000 - EARLY_MS, 2000 + LATE_MS, 'wait after Retry-After: 2');
});

test('Retry-After as an HTTP date on a 429 is waited out until that time', async () => {
  const path = join(dir, 'retry-after-date.bin');
  writeFileSync(path, 'retry after a date\n'.repeat(500));
  let retryAt = 0;
  const headers = () => {
    // HTTP dates have whole seconds: the time named is 2–3 s ahead.
    const date = new Date(Date.now() + 3000).toUTCString();
    retryAt = Date.parse(date);
    return { 'Retry-After': date };
  };
  const { errors, log } = await uploadWith(path, [{ ...retryable(429, 'too_many_requests'), headers }],
    { retryDelay: 50, maxRetryDelay: 200 });
  assert.deepEqual(errors, []);
  assert.equal(log.length, 2);
  // Same machine, same clock: the next attempt arrives no earlier than the time named (the reply's
  // own Date header, which the widget counts from, is at most 1 s behind it: whole seconds too).
  within(log[1].wall - retryAt, -EARLY_MS, 1000 + LATE_MS, 'next attempt after the Retry-After date, by');
});

test('a Retry-After date counts from the reply\'s own Date, so a client clock that is off does not matter', async () => {
  const path = join(dir, 'retry-after-skew.bin');
  writeFileSync(path, 'retry after, skewed clocks\n'.repeat(500));
  // A server whose clock is an hour behind the client's: by the client's clock its Retry-After date
  // is long past, but it says "2 s after this reply".
  const headers = () => {
    const serverNow = Math.floor(Date.now() / 1000) * 1000 - 3600 * 1000;
    return { Date: new Date(serverNow).toUTCString(), 'Retry-After': new Date(serverNow + 2000).toUTCString() };
  };
  const { errors, retries, log } = await uploadWith(path, [{ ...retryable(503, 'chunk_busy'), headers }],
    { retryDelay: 50, maxRetryDelay: 200 });
  assert.deepEqual(errors, []);
  assert.equal(log.length, 2);
  assert.deepEqual(retries.map((r) => r.delay), [2000]);
  within(log[1].arrived - log[0].replied, 2000 - EARLY_MS, 2000 + LATE_MS, 'wait after a skewed Retry-After date');
});

test('a Retry-After longer than maxRetryAfter is cut to maxRetryAfter', async () => {
  const path = join(dir, 'retry-after-cap.bin');
  writeFileSync(path, 'retry after, capped\n'.repeat(500));
  const maxRetryAfter = 1500;
  const { errors, retries, log } = await uploadWith(path, [{ ...retryable(503, 'chunk_busy'), headers: { 'Retry-After': '3600' } }],
    { retryDelay: 50, maxRetryDelay: 200, maxRetryAfter });
  assert.deepEqual(errors, []);
  assert.equal(log.length, 2);
  assert.deepEqual(retries.map((r) => r.delay), [maxRetryAfter]);
  within(log[1].arrived - log[0].replied, maxRetryAfter - EARLY_MS, maxRetryAfter + LATE_MS, 'wait after Retry-After: 3600');
});
