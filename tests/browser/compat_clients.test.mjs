// Wire compatibility with the unmodified npm clients: resumablejs@1.1.0 and @flowjs/flow.js@2.14.1,
// loaded from node_modules by test pages, upload to the real server in Chromium with their default
// settings (1 MiB chunks, multipart, 3 simultaneous uploads, testChunks on). Each upload's final
// result comes from the client's fileSuccess message; the file is then claimed through the test
// server and compared with the original byte for byte (the tree digest by the Python reference, and size).
// Resuming: a first page is closed half way through an upload; a fresh page and client instance
// upload the same file again, and the server's test-GET answers spare them the stored chunks.
//
// The server runs with --allow-anonymous: resumable.js sends `X-Test-User` through its `headers`
// option (so the principal comes from a client-set header), flow.js uploads anonymously.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { referenceDigest, launchBrowser, removeDir, scratchDir, startTestServer, writeRandomFile } from './harness.mjs';

const MiB = 1048576;
const BIG_SIZE = 256 * MiB + 12345;   // the clients' last 1 MiB chunk absorbs the 12345-byte remainder
const RESUME_SIZE = 96 * MiB + 4321;
const DEFAULT_CHUNK = MiB;            // both clients' default chunkSize

const CLIENTS = {
  'resumable.js': {
    page: 'compat-resumable.html',
    user: 'alice',
    options: { headers: { 'X-Test-User': 'alice' } },
    identifierParam: 'resumableIdentifier',
  },
  'flow.js': {
    page: 'compat-flow.html',
    user: null, // anonymous
    options: {},
    identifierParam: 'flowIdentifier',
  },
};

let dir, dataDir, server, browser;
const files = {};

before(async () => {
  dir = scratchDir('compat');
  dataDir = join(dir, 'data');
  server = await startTestServer({ dataDir, args: ['--allow-anonymous'] });
  browser = await launchBrowser();
  for (const [name, size] of [['big.bin', BIG_SIZE], ['resume.bin', RESUME_SIZE]]) {
    const path = join(dir, name);
    await writeRandomFile(path, size);
    files[name] = { path, size, digest: referenceDigest(path) };
  }
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0, 'the test server exits cleanly on SIGTERM');
});

// A logged-in principal's header; an anonymous client is its browser context, whose scope cookie
// (set by the endpoint) the requests made from node carry.
async function userHeaders(user, context) {
  if (user) return { 'X-Test-User': user };
  const cookies = context ? await context.cookies(server.url) : [];
  return cookies.length ? { Cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') } : {};
}

async function claim(token, user, context) {
  const response = await fetch(new URL(`test/claim?token=${token}`, server.url), {
    method: 'POST', headers: await userHeaders(user, context),
  });
  return { status: response.status, body: await response.json() };
}

async function uploadStatus(identifier, user, context) {
  const response = await fetch(new URL(`upload/status?identifier=${encodeURIComponent(identifier)}`, server.url), {
    headers: await userHeaders(user, context),
  });
  return { status: response.status, body: await response.json() };
}

// Records every request a page makes to the endpoint, with its response status.
function watchEndpoint(page) {
  const log = { requests: [], identifier: null };
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname !== '/upload') return;
    const entry = { method: request.method(), status: null };
    entry.done = request.response().then((response) => { entry.status = response?.status() ?? 'failed'; },
      () => { entry.status = 'failed'; });
    log.requests.push(entry);
    log.identifier ??= url.searchParams.get('resumableIdentifier') ?? url.searchParams.get('flowIdentifier');
  });
  log.settled = () => Promise.all(log.requests.map((r) => r.done));
  log.count = (method, status) => log.requests.filter((r) => r.method === method && (status === undefined || r.status === status)).length;
  log.summary = () => {
    const byKind = {};
    for (const r of log.requests) byKind[`${r.method} ${r.status}`] = (byKind[`${r.method} ${r.status}`] ?? 0) + 1;
    return JSON.stringify(byKind);
  };
  return log;
}

// Opens the client's page, starts an upload with `options` and hands it `filePath`; resolves with what
// the page reported ({event: 'fileSuccess', message, chunkCount, identifier} or a fileError).
async function upload(page, client, filePath) {
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(String(error)));
  await page.goto(new URL(`tests/browser/pages/${client.page}`, server.url).href);
  const outcome = page.evaluate((options) => window.startUpload(options), client.options);
  await page.setInputFiles('#picker', filePath);
  const result = await outcome;
  assert.deepEqual(pageErrors, [], 'no script errors on the page');
  return result;
}

// Checks the fileSuccess message is the final result for `file`, claims the file (as the client whose
// browser context uploaded it) and compares it with the original; returns the final result.
async function assertStoredAndClaim(outcome, file, client, context) {
  assert.equal(outcome.event, 'fileSuccess', `the upload succeeded: ${JSON.stringify(outcome).slice(0, 500)}`);
  let result = JSON.parse(outcome.message);
  if (result.status === 'chunk_stored') {
    // docs/protocol.md: with chunks in flight the library hands over the reply that reached the page
    // last, possibly an earlier chunk's; the status request then gives the final result.
    const status = await uploadStatus(outcome.identifier, client.user, context);
    assert.equal(status.status, 200, JSON.stringify(status.body));
    result = status.body;
  }
  assert.equal(result.status, 'complete', `the fileSuccess message, or the status after it, is the final result: ${outcome.message}`);
  assert.match(result.token, /^[0-9a-f]{64}$/);
  assert.equal(result.size, file.size);
  assert.equal(result.fileDigest, file.digest, 'the final result carries the tree digest of the original');
  assert.equal(result.chunkCount, outcome.chunkCount);
  assert.equal(result.identifier, outcome.identifier);

  const intruder = await claim(result.token, client.user ? 'mallory' : 'alice');
  assert.equal(intruder.status, 404, 'another principal cannot claim the token');
  const claimed = await claim(result.token, client.user, context);
  assert.equal(claimed.status, 200, `claim: ${JSON.stringify(claimed.body)}`);
  const rel = relative(join(dataDir, 'files'), claimed.body.path);
  assert.ok(rel && !rel.startsWith('..') && !isAbsolute(rel), `the file lies under the data dir's files/: ${claimed.body.path}`);
  assert.equal(claimed.body.size, file.size);
  assert.equal(claimed.body.fileDigest, file.digest);
  assert.equal(statSync(claimed.body.path).size, file.size, 'the stored file has the original size');
  assert.equal(referenceDigest(claimed.body.path), file.digest, 'the stored file is byte-identical (same digest)');
  const again = await claim(result.token, client.user, context);
  assert.equal(again.status, 404, 'a token is claimed once');
  rmSync(claimed.body.path); // the file is the test's now
  return result;
}

for (const [name, client] of Object.entries(CLIENTS)) {
  test(`${name} uploads a ${BIG_SIZE} byte file with default settings; the stored file is identical`, { timeout: 300000 }, async () => {
    const file = files['big.bin'];
    const context = await browser.newContext();
    const page = await context.newPage();
    const log = watchEndpoint(page);
    const started = performance.now();
    const outcome = await upload(page, client, file.path);
    const seconds = (performance.now() - started) / 1000;
    await log.settled();
    await page.close();
    const chunks = Math.floor(file.size / DEFAULT_CHUNK);
    assert.equal(outcome.event, 'fileSuccess', `the upload succeeded: ${JSON.stringify(outcome).slice(0, 500)}; requests: ${log.summary()}`);
    assert.equal(outcome.chunkCount, chunks, 'the client used its default 1 MiB chunks');
    await assertStoredAndClaim(outcome, file, client, context);
    await context.close();
    // testChunks: one test GET per chunk, all answered "absent" (204); then one POST per chunk, all 200.
    assert.equal(log.count('GET', 204), chunks, `requests: ${log.summary()}`);
    assert.equal(log.count('POST', 200), chunks, `requests: ${log.summary()}`);
    assert.equal(log.requests.length, 2 * chunks, `requests: ${log.summary()}`);
    console.log(`${name}: ${file.size} bytes in ${seconds.toFixed(1)} s (${(file.size / MiB / seconds).toFixed(0)} MiB/s), ${log.summary()}`);
  });

  test(`${name} with 1,000,000-byte chunks (not on 1 MiB leaf boundaries) gets the same file digest as with 1 MiB chunks`, { timeout: 300000 }, async () => {
    // Leaves span chunks, chunks run 3 at once (so a chunk often lands before the one before it, and
    // the server reads its head back): the digest must still be the file's, the one the default
    // 1 MiB chunks gave above for big.bin, and the Python reference's.
    const file = files['resume.bin'];
    const context = await browser.newContext();
    const page = await context.newPage();
    const outcome = await upload(page, { ...client, options: { ...client.options, chunkSize: 1000000 } }, file.path);
    await page.close();
    assert.equal(outcome.chunkCount, Math.floor(file.size / 1000000), 'the client used 1,000,000-byte chunks');
    const result = await assertStoredAndClaim(outcome, file, client, context);
    assert.equal(result.digestAlgorithm, 'rsm-tree-v1');
    await context.close();
  });

  test(`${name} resumes an interrupted upload: a fresh client skips the chunks the server has`, { timeout: 300000 }, async () => {
    const file = files['resume.bin'];
    const chunks = Math.floor(file.size / DEFAULT_CHUNK);

    // First attempt: close the page once half the chunks have been acknowledged. Both attempts run
    // in one browser context: the same browser (an anonymous client is its cookie jar).
    const context = await browser.newContext();
    const first = await context.newPage();
    const firstLog = watchEndpoint(first);
    const half = new Promise((resolve) => {
      let acknowledged = 0;
      first.on('response', (response) => {
        const url = new URL(response.url());
        if (url.pathname === '/upload' && response.request().method() === 'POST' && response.status() === 200 &&
            ++acknowledged === Math.ceil(chunks / 2)) resolve(acknowledged);
      });
    });
    const firstOutcome = upload(first, client, file.path).catch((error) => ({ event: 'page closed', error: String(error) }));
    // If the first attempt ends (e.g. fails) before half the chunks are in, stop here with what it said.
    const acknowledged = await Promise.race([half, firstOutcome.then((outcome) => {
      throw new Error(`the first attempt ended early: ${JSON.stringify(outcome).slice(0, 500)}; requests: ${firstLog.summary()}`);
    })]);
    await first.close();
    assert.notEqual((await firstOutcome).event, 'fileSuccess', 'the first attempt was cut off');
    assert.ok(firstLog.identifier, 'the test GETs carry the identifier in the query');

    // The server holds at least the acknowledged chunks, and not all of them.
    const status = await uploadStatus(firstLog.identifier, client.user, context);
    assert.equal(status.status, 200, `status: ${JSON.stringify(status.body)}`);
    assert.equal(status.body.status, 'partial');
    assert.equal(status.body.chunkCount, chunks);
    const held = status.body.received.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
    assert.equal(status.body.digests.length, held);
    assert.ok(held >= acknowledged && held < chunks, `held ${held} of ${chunks} chunks, ${acknowledged} acknowledged`);

    // Second attempt: a fresh page and client instance with the same file.
    const second = await context.newPage();
    const log = watchEndpoint(second);
    const outcome = await upload(second, client, file.path);
    await log.settled();
    await second.close();
    assert.equal(outcome.identifier, firstLog.identifier, 'the same identifier as the first attempt');
    await assertStoredAndClaim(outcome, file, client, context);
    await context.close();
    const posts = log.count('POST');
    const present = log.count('GET', 200);
    console.log(`${name} resume: first attempt ${acknowledged} chunks acknowledged, server held ${held}; ` +
      `second attempt ${posts} POSTs for ${chunks} chunks, ${log.summary()}`);
    assert.ok(present >= held, `the server said "present" for every stored chunk (${present} >= ${held}): ${log.summary()}`);
    assert.ok(posts <= chunks - held, `only missing chunks were sent (${posts} <= ${chunks - held}): ${log.summary()}`);
    assert.ok(posts < chunks);
    assert.equal(log.count('POST', 200), posts, `every POST succeeded: ${log.summary()}`);
  });
}
