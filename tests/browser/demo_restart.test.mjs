// The demo across a restart (issue 5): records and their files are intact, the admin created from
// the environment can log in, and an upload interrupted by the restart resumes where it stopped:
// the chunks stored before it are still on the server and are not sent again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  referenceDigest, demoSessionOf, endDemoSession, launchBrowser, sameBytes, scratchDir, startDemo, writeRandomFile,
} from './harness.mjs';

const MiB = 1048576;
const CHUNK = 8 * MiB; // the demo form's chunk size
const INTERRUPTED_SIZE = 64 * MiB + 1234; // 8 chunks
const STORED_BEFORE_RESTART = 3;
const ADMIN = 'restart-admin';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
let dir, dataDir, demo, port, browser, context, kept, interrupted;

before(async () => {
  dir = scratchDir('demo-restart');
  dataDir = join(dir, 'data');
  kept = { path: join(dir, 'kept.bin') };
  await writeRandomFile(kept.path, 6 * MiB + 3);
  kept.digest = referenceDigest(kept.path);
  interrupted = { path: join(dir, 'interrupted.bin') };
  await writeRandomFile(interrupted.path, INTERRUPTED_SIZE);
  interrupted.digest = referenceDigest(interrupted.path);
  // The first admin from the environment (startDemo's child inherits it): created at the first start.
  process.env.RESUMABLE_DEMO_ADMIN = ADMIN;
  process.env.RESUMABLE_DEMO_ADMIN_PASSWORD = PASSWORD;
  demo = await startDemo({ dataDir });
  assert.match(demo.output(), /admin restart-admin created/);
  port = new URL(demo.url).port;
  browser = await launchBrowser();
  context = await browser.newContext();
});

after(() => endDemoSession({ browser, demo, dir }));

const at = (path) => new URL(path, demo.url).href;

// Stops the demo and starts it again on the same port and data dir (the browser keeps its pages).
async function restart() {
  assert.equal(await demo.stop(), 0);
  demo = await startDemo({ dataDir, args: ['--port', port] });
}

async function saveDocument(page, title) {
  await page.fill('#title', title);
  await page.click('#save');
  await page.waitForURL(/\/\?created=\d+$/);
  return new URL(page.url()).searchParams.get('created');
}

test('records and their files are intact after a restart, and the admin from the environment can log in', async () => {
  const page = await context.newPage();
  await page.goto(at('documents/new'));
  await page.setInputFiles('#file', kept.path);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 120000 });
  const id = await saveDocument(page, 'Kept across restarts');
  const storedBefore = readdirSync(join(dataDir, 'documents'));

  await restart();
  assert.doesNotMatch(demo.output(), /created/, 'an existing admin is not created again');
  assert.deepEqual(readdirSync(join(dataDir, 'documents')), storedBefore);
  await page.goto(at(''));
  assert.equal(await page.textContent(`#document-${id} .title`), 'Kept across restarts');
  assert.equal(await page.textContent(`#document-${id} code.digest`), kept.digest);
  const downloaded = Buffer.from(await (await fetch(at(`documents/${id}/download`))).arrayBuffer());
  assert.ok(downloaded.equals(readFileSync(kept.path)), 'the file downloads intact after the restart');

  await page.goto(at('admin/login'));
  await page.fill('#name', ADMIN);
  await page.fill('#password', PASSWORD);
  await page.click('#login');
  await page.waitForURL(at('admin/'));
  assert.equal(await page.textContent('#admin-name'), ADMIN);
  await page.close();
});

test('an upload interrupted by a restart resumes where it stopped', async () => {
  const page = await context.newPage();
  await page.goto(at('documents/new'));

  // Chunk requests as the page sends them, and which chunks the server confirmed before the restart
  // and after it.
  let phase = 'before';
  const sent = [];
  const confirmedBefore = new Set();
  const confirmedLater = new Set();
  let identifier = null;
  const chunkNumber = (url) => Number(url.searchParams.get('resumableChunkNumber'));
  const isChunk = (request) => request.method() === 'POST' && new URL(request.url()).pathname === '/upload';
  page.on('request', (request) => {
    if (!isChunk(request)) return;
    const url = new URL(request.url());
    identifier = url.searchParams.get('resumableIdentifier');
    sent.push({ phase, number: chunkNumber(url) });
  });
  let confirmedAll;
  const allConfirmed = new Promise((resolve) => { confirmedAll = resolve; });
  page.on('response', (response) => {
    if (!isChunk(response.request()) || response.status() !== 200) return;
    const number = chunkNumber(new URL(response.url()));
    if (phase !== 'before') {
      confirmedLater.add(number);
      return;
    }
    confirmedBefore.add(number);
    if (confirmedBefore.size === STORED_BEFORE_RESTART) confirmedAll();
  });
  // Later chunks wait here until the server is down; then they go out and fail, as on a real restart.
  let openGate;
  const gate = new Promise((resolve) => { openGate = resolve; });
  await page.route((url) => url.pathname === '/upload', async (route) => {
    const request = route.request();
    if (request.method() === 'POST' && chunkNumber(new URL(request.url())) > STORED_BEFORE_RESTART) await gate;
    await route.continue().catch(() => { /* the page went away */ });
  });

  await page.setInputFiles('#file', interrupted.path);
  await allConfirmed;
  phase = 'down';
  assert.equal(await demo.stop(), 0);
  const failed = page.waitForEvent('requestfailed', { predicate: isChunk });
  openGate();
  await failed; // a held chunk hit the stopped server
  demo = await startDemo({ dataDir, args: ['--port', port] });
  phase = 'after';

  // The server kept what it had confirmed: the same browser session sees those chunks.
  const session = await demoSessionOf(context, page);
  const status = await fetch(at(`upload/status?identifier=${encodeURIComponent(identifier)}`), {
    headers: { Cookie: session.cookie, 'X-CSRF-Token': session.csrf },
  });
  const body = await status.json();
  const received = new Set();
  if (body.status === 'partial') {
    for (const [first, last] of body.received) for (let n = first; n <= last; n++) received.add(n);
  } else {
    assert.equal(body.status, 'complete');
  }
  for (const n of confirmedBefore) assert.ok(body.status === 'complete' || received.has(n), `chunk ${n} survived the restart`);

  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 300000 });
  const id = await saveDocument(page, 'Interrupted and resumed');
  assert.equal(await page.textContent(`#document-${id} code.digest`), interrupted.digest);
  const [stored] = readdirSync(join(dataDir, 'documents')).filter((name) => sameBytes(join(dataDir, 'documents', name), interrupted.path));
  assert.ok(stored, 'the resumed upload was stored intact');

  const chunkCount = Math.floor(INTERRUPTED_SIZE / CHUNK);
  for (const n of confirmedBefore) {
    assert.equal(sent.filter((s) => s.number === n).length, 1, `chunk ${n} was sent once, not again after the restart`);
  }
  for (let n = 1; n <= chunkCount; n++) {
    assert.ok(confirmedBefore.has(n) !== confirmedLater.has(n), `chunk ${n} was stored once: before or after the restart`);
  }
  await page.close();
});
