// The widget against the real server: uploads arrive byte-identical with the tree digest; pause,
// resume, reload, cancel, faults in transit and a server restart behave as docs/protocol.md and
// issue 4 describe. Page-side triggers (pause at the k-th stored chunk) keep the tests free of timing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { artifactsDir, referenceDigest, removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, claim, launchBrowser, openContext, recordEndpointRequests, startTestServer, uploadStatus } from './widget_support.mjs';

let dir, server, browser;

before(async () => {
  dir = scratchDir('widget-upload');
  server = await startTestServer({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0, 'the test server exits cleanly on SIGTERM');
});

// Chunk POSTs the test server received (counted before the endpoint sees them).
async function serverChunkPosts() {
  const response = await fetch(`${server.url}/test/stats`);
  return (await response.json()).chunkPosts;
}

async function apiPage(context, target = server) {
  const page = await context.newPage();
  await page.goto(`${target.url}/tests/browser/pages/widget-api.html`);
  return page;
}

async function waitForEvent(page, type, count = 1, timeout = 300000) {
  await page.waitForFunction(([t, n]) => window.eventsOf(t).length >= n || window.eventsOf('file-error').length > 0,
    [type, count], { timeout });
  const errors = await page.evaluate(() => window.eventsOf('file-error'));
  assert.deepEqual(errors, [], 'no file failed');
}

// Starts an upload of the picked file that pauses itself right after its k-th stored chunk.
function uploadPausingAt(page, storedChunks, options) {
  return page.evaluate(([k, opts]) => {
    const uploader = window.uploadPicked(opts);
    let stored = 0;
    uploader.on('chunk-stored', (detail) => { if (++stored === k) uploader.pause(detail.file); });
  }, [storedChunks, options]);
}

const sorted = (numbers) => [...numbers].sort((a, b) => a - b);
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a 20 MiB file uploads in 1 MiB chunks; the claimed file has the tree digest', async () => {
  const path = join(dir, 'twenty.bin');
  await writeRandomFile(path, 20 * MiB + 777);
  const context = await openContext(browser);
  const page = await apiPage(context);
  const requests = recordEndpointRequests(page);
  await page.setInputFiles('#picker', path);
  await page.evaluate(() => window.uploadPicked({ chunkSize: 1048576 }));
  await waitForEvent(page, 'file-success');
  const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
  const digest = referenceDigest(path);
  assert.equal(result.fileDigest, digest);
  assert.equal(result.size, 20 * MiB + 777);
  assert.equal(result.chunkCount, 20);
  assert.deepEqual(sorted(requests.chunks), range(1, 20), 'every chunk sent exactly once');
  assert.equal(requests.status, 1, 'one status request before the first chunk');
  const claimed = await claim(server, result.token);
  assert.equal(claimed.status, 200);
  assert.equal(referenceDigest(claimed.body.path), digest);
  await context.close();
  unlinkSync(path);
});

test('a 256 MiB file uploads with the widget\'s defaults; its final digest is resumable-digest\'s and the Python reference\'s', async () => {
  // The widget's Worker pool hashes 1 MiB leaves, sends chunk digests from them and the file digest;
  // the server checks them and reports the digest it computed from its own leaf records. Both
  // commands that check a file without the browser must give the same value.
  const path = join(dir, 'tree.bin');
  const size = 256 * MiB + 12345;
  await writeRandomFile(path, size);
  const context = await openContext(browser);
  const page = await apiPage(context);
  await page.setInputFiles('#picker', path);
  await page.evaluate(() => window.uploadPicked({}));
  await waitForEvent(page, 'file-success');
  const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
  const native = execFileSync(process.env.RESUMABLE_DIGEST_BIN, [path], { encoding: 'utf8' }).split(' ')[0];
  assert.match(native, /^[0-9a-f]{64}$/);
  assert.equal(result.fileDigest, native, 'the final digest is resumable-digest\'s');
  assert.equal(result.fileDigest, referenceDigest(path), 'and the Python reference\'s');
  assert.equal(result.digestAlgorithm, 'rsm-tree-v1');
  assert.equal(result.size, size);
  const claimed = await claim(server, result.token);
  assert.equal(claimed.status, 200);
  assert.equal(execFileSync('cmp', [path, claimed.body.path], { encoding: 'utf8' }), '', 'the stored file is the source');
  rmSync(claimed.body.path);
  await context.close();
  unlinkSync(path);
});

test('a 600 MiB file chosen in the form widget arrives byte-identical, without long main-thread tasks', async () => {
  const path = join(dir, 'large.bin');
  const size = 600 * MiB + 4321;
  await writeRandomFile(path, size);
  const digest = referenceDigest(path);
  const context = await openContext(browser);
  const page = await context.newPage();
  await page.goto(`${server.url}/tests/browser/pages/widget-form.html`);
  const started = Date.now();
  await page.setInputFiles('#attachment', path);
  const row = page.locator('.rsm-file');
  await row.locator('.rsm-file-state', { hasText: 'Done' }).waitFor({ timeout: 600000 });
  const seconds = (Date.now() - started) / 1000;
  console.log(`600 MiB uploaded in ${seconds.toFixed(1)} s: ${(size / MiB / seconds).toFixed(0)} MiB/s including hashing`);
  assert.equal(await row.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
  const longTasks = await page.evaluate(() => window.longTasks);
  console.log(`long tasks on the main thread: ${longTasks.length ? longTasks.map(Math.round).join(', ') + ' ms' : 'none'}`);
  assert.ok(longTasks.every((duration) => duration < 200), `no main-thread task of 200 ms or more (${longTasks})`);
  await page.screenshot({ path: join(artifactsDir(), 'widget-large-upload.png') });
  await page.click('#send');
  await page.waitForURL(/submitted\.html/);
  const token = new URL(page.url()).searchParams.get('attachment');
  assert.match(token, /^[0-9a-f]{64}$/);
  const claimed = await claim(server, token);
  assert.equal(claimed.status, 200);
  assert.equal(claimed.body.size, size);
  assert.equal(claimed.body.fileDigest, digest);
  assert.equal(statSync(claimed.body.path).size, size);
  assert.equal(referenceDigest(claimed.body.path), digest, 'the stored bytes equal the local file');
  unlinkSync(claimed.body.path);
  unlinkSync(path);
  await context.close();
});

test('pause stops sending; resume sends only what is missing and completes', async () => {
  const path = join(dir, 'pause.bin');
  await writeRandomFile(path, 48 * MiB);
  const context = await openContext(browser);
  const page = await apiPage(context);
  const requests = recordEndpointRequests(page);
  await page.setInputFiles('#picker', path);
  await uploadPausingAt(page, 6, { chunkSize: MiB });
  await waitForEvent(page, 'file-paused');
  const identifier = await page.evaluate(() => window.uploader.files[0].identifier);
  const sentBeforePause = requests.chunks.length;
  await page.waitForTimeout(500);
  assert.equal(requests.chunks.length, sentBeforePause, 'no chunk request while paused');
  assert.equal(await page.evaluate(() => window.uploader.files[0].state), 'paused');
  const partial = await uploadStatus(server, identifier);
  assert.equal(partial.body.status, 'partial');
  const held = partial.body.digests.length;
  assert.ok(held >= 6 && held < 48, `the server holds some chunks (${held})`);

  const statusReply = page.waitForResponse((response) => new URL(response.url()).pathname === '/upload/status');
  await page.evaluate(() => window.uploader.resume());
  const status = await (await statusReply).json();
  const heldAtResume = new Set(status.received.flatMap(([first, last]) => range(first, last)));
  await waitForEvent(page, 'file-success');
  const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
  assert.equal(result.fileDigest, referenceDigest(path));
  assert.equal(requests.status, 2, 'one status request to start and one to resume');
  assert.deepEqual(sorted(requests.chunks.slice(sentBeforePause)), range(1, 48).filter((n) => !heldAtResume.has(n)),
    'resuming sent exactly the chunks the server did not hold');
  await context.close();
  unlinkSync(path);
});

test('after a reload, re-selecting the file resumes with one status request and only the missing chunks', async () => {
  const path = join(dir, 'reload.bin');
  await writeRandomFile(path, 40 * MiB + 99);
  const context = await openContext(browser);
  const page = await apiPage(context);
  await page.setInputFiles('#picker', path);
  // Reload in the middle of the upload, with requests still on the wire.
  await page.evaluate(() => {
    const uploader = window.uploadPicked({ chunkSize: 1048576 });
    let stored = 0;
    uploader.on('chunk-stored', () => { if (++stored === 8) location.reload(); });
  });
  await page.waitForURL(/widget-api\.html/, { waitUntil: 'load' });
  await page.waitForFunction(() => Array.isArray(window.events) && window.events.length === 0 && !window.uploader);

  // Requests cut short by the reload were counted when their headers arrived; from here on the
  // server's count grows only by what the resumed upload sends.
  const postsBefore = await serverChunkPosts();
  const requests = recordEndpointRequests(page);
  const statusReply = page.waitForResponse((response) => new URL(response.url()).pathname === '/upload/status');
  await page.setInputFiles('#picker', path);
  await page.evaluate(() => window.uploadPicked({ chunkSize: 1048576 }));
  const status = await (await statusReply).json();
  assert.equal(status.status, 'partial');
  const held = new Set(status.received.flatMap(([first, last]) => range(first, last)));
  assert.ok(held.size >= 8, `the server kept the chunks stored before the reload (${held.size})`);
  await waitForEvent(page, 'file-success');
  assert.equal(requests.status, 1, 'resuming takes one status request');
  assert.deepEqual(sorted(requests.chunks), range(1, 40).filter((n) => !held.has(n)), 'exactly the missing chunks were sent');
  // Counted on the server too: chunk requests that arrived after the status request.
  assert.equal(await serverChunkPosts() - postsBefore, 40 - held.size,
    'the server received exactly the missing chunks');
  const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
  assert.equal(result.fileDigest, referenceDigest(path));
  await context.close();
  unlinkSync(path);
});

test('cancel stops the upload and deletes its data on the server', async () => {
  const path = join(dir, 'cancel.bin');
  await writeRandomFile(path, 24 * MiB);
  const context = await openContext(browser);
  const page = await apiPage(context);
  await page.setInputFiles('#picker', path);
  const deleted = page.waitForResponse((response) => response.request().method() === 'DELETE');
  await page.evaluate(() => {
    const uploader = window.uploadPicked({ chunkSize: 1048576 });
    let stored = 0;
    uploader.on('chunk-stored', (detail) => { if (++stored === 3) uploader.cancel(detail.file); });
  });
  const reply = await deleted;
  assert.equal(reply.status(), 204);
  const identifier = new URL(reply.url()).searchParams.get('identifier');
  assert.deepEqual(await page.evaluate(() => [window.eventsOf('file-cancelled').length, window.uploader.files.length]), [1, 0]);
  // A chunk request aborted by the cancel can still reach the server after the DELETE; the upload it
  // recreates is removed again when its body fails. Wait (bounded) for the server to settle there.
  let status;
  for (let attempt = 0; attempt < 100; attempt++) {
    status = await uploadStatus(server, identifier);
    if (status.status === 404) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(status.status, 404);
  assert.equal(status.body.error, 'upload_not_found');
  await context.close();
  unlinkSync(path);
});

test('a reset connection, a busy reply and a chunk corrupted in transit are retried; the file arrives intact', async () => {
  const path = join(dir, 'faults.bin');
  await writeRandomFile(path, 8 * MiB + 3);
  const context = await openContext(browser);
  const page = await apiPage(context);
  const attempts = new Map();
  await page.route((url) => url.pathname === '/upload', async (route) => {
    const request = route.request();
    const number = Number(new URL(request.url()).searchParams.get('resumableChunkNumber'));
    const attempt = (attempts.get(number) ?? 0) + 1;
    attempts.set(number, attempt);
    if (request.method() !== 'POST' || attempt > 1) return route.continue();
    if (number === 2) return route.abort('connectionreset');
    if (number === 3) {
      return route.fulfill({ status: 503, contentType: 'application/json',
        body: JSON.stringify({ status: 'error', error: 'chunk_busy', message: 'Busy.', retryable: true }) });
    }
    if (number === 4) {
      const body = request.postDataBuffer();
      body[12345] ^= 0xff; // one flipped byte: the server's digest check must catch it
      return route.continue({ postData: body });
    }
    return route.continue();
  });
  await page.setInputFiles('#picker', path);
  await page.evaluate(() => window.uploadPicked({ chunkSize: 1048576, retryDelay: 20, maxRetryDelay: 100 }));
  await waitForEvent(page, 'file-success');
  const retries = await page.evaluate(() => window.eventsOf('file-retry').map((e) => [e.chunk, e.error.code]));
  assert.deepEqual(retries.sort((a, b) => a[0] - b[0]),
    [[2, 'network_error'], [3, 'chunk_busy'], [4, 'chunk_digest_mismatch']]);
  const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
  assert.equal(result.fileDigest, referenceDigest(path));
  const claimed = await claim(server, result.token);
  assert.equal(referenceDigest(claimed.body.path), referenceDigest(path), 'the corrupted chunk was replaced by the good one');
  await context.close();
  unlinkSync(path);
});

test('an upload survives a server restart without user action', async () => {
  const dataDir = join(dir, 'restart-data');
  let own = await startTestServer({ dataDir });
  const path = join(dir, 'restart.bin');
  await writeRandomFile(path, 32 * MiB);
  const context = await openContext(browser);
  try {
    const page = await apiPage(context, own);
    await page.setInputFiles('#picker', path);
    await uploadPausingAt(page, 5, { chunkSize: MiB, retryDelay: 100, maxRetryDelay: 500 });
    await waitForEvent(page, 'file-paused');
    assert.equal(await own.stop(), 0);
    // Resumed while the server is down: requests fail and are retried until it is back.
    await page.evaluate(() => window.uploader.resume());
    await page.waitForFunction(() => window.eventsOf('file-retry').length >= 2);
    own = await startTestServer({ dataDir, port: own.port });
    await waitForEvent(page, 'file-success');
    const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
    assert.equal(result.fileDigest, referenceDigest(path));
  } finally {
    await context.close();
    await own.stop();
    unlinkSync(path);
  }
});
