// The demo's public side (issue 5): a 256 MiB file sent through the public form is listed with
// its tree digest and downloads intact, whole and by byte ranges; form posts without the CSRF
// token, with forged tokens or paths, or with a token that is used or someone else's are refused
// and save nothing; what visitors type is shown as text.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  artifactsDir, referenceDigest, demoVisitor, endDemoSession, fileBytes, launchBrowser, postDemoForm, sameBytes,
  scratchDir, sendChunk, startDemo, writeRandomFile,
} from './harness.mjs';

const MiB = 1048576;
const BIG_SIZE = 256 * MiB + 12345; // 32 chunks of the form's 8 MiB, the last one absorbing the rest
let dir, demo, browser, bigPath, bigDigest;

before(async () => {
  dir = scratchDir('demo-documents');
  bigPath = join(dir, 'survey data.bin');
  await writeRandomFile(bigPath, BIG_SIZE);
  bigDigest = referenceDigest(bigPath);
  demo = await startDemo({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

after(() => endDemoSession({ browser, demo, dir }));

const at = (path) => new URL(path, demo.url).href;
const dataPath = (...parts) => join(dir, 'data', ...parts);
const entries = (...parts) => readdirSync(dataPath(...parts));

async function fetchRange(url, range) {
  const response = await fetch(url, { headers: { Range: range } });
  return { status: response.status, contentRange: response.headers.get('content-range'),
    bytes: Buffer.from(await response.arrayBuffer()) };
}

// A visitor uploads `bytes` in one chunk (as the widget would) and gets the upload's token.
async function uploadAs(visitor, bytes, fileName = 'note.txt') {
  const reply = await sendChunk(at('upload'), {
    bytes, identifier: `test-${randomBytes(6).toString('hex')}`, fileName,
    headers: { Cookie: visitor.cookie, 'X-CSRF-Token': visitor.csrf },
  });
  assert.equal(reply.status, 200, JSON.stringify(reply.body));
  assert.equal(reply.body.status, 'complete');
  return reply.body.token;
}

async function documentTitles() {
  const html = await (await fetch(at(''))).text();
  return [...html.matchAll(/<strong class="title">([^<]*)<\/strong>/g)].map((m) => m[1]);
}

test('a 256 MiB file sent through the public form is listed with its tree digest and downloads intact', async () => {
  // Reduced motion: the widget's progress bar is drawn at its final width in the screenshots.
  const context = await browser.newContext({ acceptDownloads: true, reducedMotion: 'reduce' });
  const page = await context.newPage();
  // Script errors and Content-Security-Policy violations; failed loads are checked by URL below.
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  const refused = [];
  page.on('response', (response) => {
    if (response.status() >= 400) refused.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });

  await page.goto(at('documents/new'));
  await page.fill('#title', 'Survey data');
  await page.fill('#description', 'Raw readings\nfrom the field');
  await page.setInputFiles('#file', bigPath);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 600000 });
  await page.screenshot({ path: join(artifactsDir(), 'demo-form.png') });
  await page.click('#save');
  await page.waitForURL(/\/\?created=\d+$/);
  const id = new URL(page.url()).searchParams.get('created');

  const row = page.locator(`#document-${id}`);
  assert.equal(await row.locator('.title').textContent(), 'Survey data');
  assert.equal(await row.locator('.description').textContent(), 'Raw readings\nfrom the field');
  assert.equal(await row.locator('a.download').textContent(), 'survey data.bin');
  assert.equal(await row.locator('.size').getAttribute('data-bytes'), String(BIG_SIZE));
  assert.equal(await row.locator('code.digest').textContent(), bigDigest, 'the shown digest is the Python reference digest of the file');
  await page.screenshot({ path: join(artifactsDir(), 'demo-documents.png') });

  // The record's file is the claimed upload, moved into documents/; nothing is left in the endpoint.
  const stored = entries('documents');
  assert.equal(stored.length, 1);
  assert.ok(sameBytes(dataPath('documents', stored[0]), bigPath), 'the stored file equals the original');
  assert.deepEqual(entries('uploads', 'public', 'chunks'), []);
  assert.deepEqual(entries('uploads', 'public', 'files'), []);

  const [download] = await Promise.all([page.waitForEvent('download'), row.locator('a.download').click()]);
  assert.equal(download.suggestedFilename(), 'survey data.bin');
  const saved = join(dir, 'downloaded.bin');
  await download.saveAs(saved);
  assert.ok(sameBytes(saved, bigPath), 'the downloaded file equals the original');
  rmSync(saved);

  const url = at(await row.locator('a.download').getAttribute('href'));
  const head = await fetchRange(url, 'bytes=0-99');
  assert.equal(head.status, 206);
  assert.equal(head.contentRange, `bytes 0-99/${BIG_SIZE}`);
  assert.deepEqual(head.bytes, fileBytes(bigPath, 0, 100));
  const middle = 100 * MiB + 7;
  const inside = await fetchRange(url, `bytes=${middle}-${middle + 2 * MiB - 1}`);
  assert.equal(inside.status, 206);
  assert.deepEqual(inside.bytes, fileBytes(bigPath, middle, 2 * MiB));
  const resumeAt = BIG_SIZE - 3 * MiB - 5; // how a download client resumes: from an offset to the end
  const tail = await fetchRange(url, `bytes=${resumeAt}-`);
  assert.equal(tail.status, 206);
  assert.equal(tail.contentRange, `bytes ${resumeAt}-${BIG_SIZE - 1}/${BIG_SIZE}`);
  assert.deepEqual(tail.bytes, fileBytes(bigPath, resumeAt, BIG_SIZE - resumeAt));
  const pastEnd = await fetchRange(url, `bytes=${BIG_SIZE - 10}-${BIG_SIZE + 1000}`);
  assert.equal(pastEnd.contentRange, `bytes ${BIG_SIZE - 10}-${BIG_SIZE - 1}/${BIG_SIZE}`, 'a range past the end is cut to the file');
  assert.deepEqual(pastEnd.bytes, fileBytes(bigPath, BIG_SIZE - 10, 10));
  const beyond = await fetchRange(url, `bytes=${BIG_SIZE}-`);
  assert.equal(beyond.status, 416);
  assert.equal(beyond.contentRange, `bytes */${BIG_SIZE}`);

  assert.deepEqual(consoleErrors, [], 'no script errors or Content-Security-Policy violations');
  // The widget's first status request finds no upload yet (404 upload_not_found); nothing else failed.
  assert.deepEqual(refused.filter((r) => r !== '404 /upload/status' && r !== '404 /favicon.ico'), []);
  await context.close();
});

test('without an admin account, the admin pages say how to create one and nobody can log in', async () => {
  const admin = await fetch(at('admin/'), { redirect: 'manual' });
  assert.equal(admin.status, 303);
  assert.equal(admin.headers.get('location'), '/admin/login');
  const visitor = await demoVisitor(demo.url);
  const login = await (await fetch(at('admin/login'), { headers: { Cookie: visitor.cookie } })).text();
  assert.match(login, /id="no-admin"/);
  assert.match(login, /--create-admin NAME/);
  assert.match(login, /RESUMABLE_DEMO_ADMIN_PASSWORD/);
  const csrf = /name="csrf_token" value="([0-9a-f]+)"/.exec(login)[1];
  const attempt = await postDemoForm(at('admin/login'), { csrf_token: csrf, name: 'admin', password: 'admin' }, visitor);
  assert.equal(attempt.status, 403);
  assert.match(attempt.text, /The name or password is wrong/);
});

test('a form post without this session\'s CSRF token is refused and saves nothing', async () => {
  const visitor = await demoVisitor(demo.url);
  const other = await demoVisitor(demo.url);
  const token = await uploadAs(visitor, randomBytes(5000));
  const fields = { title: 'CSRF check', description: '', file: token };
  const titlesBefore = await documentTitles();

  const missing = await postDemoForm(at('documents'), fields, visitor);
  assert.equal(missing.status, 403);
  assert.match(missing.text, /Form refused/);
  const foreign = await postDemoForm(at('documents'), { ...fields, csrf_token: other.csrf }, visitor);
  assert.equal(foreign.status, 403, 'another session\'s token does not count');
  const noCookie = await postDemoForm(at('documents'), { ...fields, csrf_token: visitor.csrf });
  assert.equal(noCookie.status, 403, 'a token without its session cookie does not count');
  assert.deepEqual(await documentTitles(), titlesBefore);

  // The refused posts did not use up the upload: the real form post still works.
  const saved = await postDemoForm(at('documents'), { ...fields, csrf_token: visitor.csrf }, visitor);
  assert.equal(saved.status, 303);
  assert.match(saved.location, /^\/\?created=\d+$/);
  assert.deepEqual(await documentTitles(), ['CSRF check', ...titlesBefore]);
});

test('a forged token or a path in the file field is refused and nothing is saved', async () => {
  const visitor = await demoVisitor(demo.url);
  const realToken = await uploadAs(visitor, randomBytes(3000));
  const titlesBefore = await documentTitles();
  const storedBefore = entries('documents').sort();
  const forged = [
    '/etc/passwd',
    '../../demo.sqlite3',
    dataPath('documents', storedBefore[0]),
    join(dir, 'survey data.bin'),
    'f'.repeat(64), // well-formed, but no upload has this token
    realToken.toUpperCase(),
    `${realToken}/../x`,
  ];
  for (const file of forged) {
    const reply = await postDemoForm(at('documents'), { csrf_token: visitor.csrf, title: 'Forged', file }, visitor);
    assert.equal(reply.status, 400, `refused: ${file}`);
    assert.match(reply.text, /id="form-errors"/);
  }
  const twoFiles = new URLSearchParams([['csrf_token', visitor.csrf], ['title', 'Two'], ['file', realToken], ['file', realToken]]);
  const doubled = await fetch(at('documents'), {
    method: 'POST', redirect: 'manual', body: twoFiles.toString(),
    headers: { Cookie: visitor.cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(doubled.status, 400, 'two file fields are refused');
  assert.deepEqual(await documentTitles(), titlesBefore);
  assert.deepEqual(entries('documents').sort(), storedBefore);
});

test('an upload token is claimed once, and only by the browser that uploaded it', async () => {
  const alice = await demoVisitor(demo.url);
  const bob = await demoVisitor(demo.url);
  const identifier = `private-${randomBytes(6).toString('hex')}`;
  const bytes = randomBytes(7000);
  const uploaded = await sendChunk(at('upload'), {
    bytes, identifier, fileName: 'alice.txt', headers: { Cookie: alice.cookie, 'X-CSRF-Token': alice.csrf },
  });
  const token = uploaded.body.token;
  const status = await fetch(at(`upload/status?identifier=${identifier}`), { headers: { Cookie: bob.cookie, 'X-CSRF-Token': bob.csrf } });
  assert.equal(status.status, 404, 'another browser does not see the upload');

  const byBob = await postDemoForm(at('documents'), { csrf_token: bob.csrf, title: 'Bob took it', file: token }, bob);
  assert.equal(byBob.status, 400);
  assert.match(byBob.text, /belongs to another browser/);
  const byAlice = await postDemoForm(at('documents'), { csrf_token: alice.csrf, title: 'Alice\'s note', file: token }, alice);
  assert.equal(byAlice.status, 303);
  const again = await postDemoForm(at('documents'), { csrf_token: alice.csrf, title: 'Alice again', file: token }, alice);
  assert.equal(again.status, 400, 'a token is used once');
  const titles = await documentTitles();
  assert.ok(titles.includes('Alice&#39;s note'));
  assert.ok(!titles.includes('Bob took it') && !titles.includes('Alice again'));
});

test('the public upload endpoint needs the session cookie and its CSRF header before reading a byte', async () => {
  const visitor = await demoVisitor(demo.url);
  const other = await demoVisitor(demo.url);
  const chunk = (headers) => sendChunk(at('upload'), {
    bytes: randomBytes(4096), identifier: `refused-${randomBytes(6).toString('hex')}`, fileName: 'x.bin', headers,
  });
  const before = entries('uploads', 'public', 'chunks');
  for (const headers of [{}, { Cookie: visitor.cookie }, { Cookie: visitor.cookie, 'X-CSRF-Token': other.csrf },
    { 'X-CSRF-Token': visitor.csrf }]) {
    const reply = await chunk(headers);
    assert.equal(reply.status, 401, JSON.stringify(headers));
    assert.equal(reply.body.error, 'unauthenticated');
  }
  assert.deepEqual(entries('uploads', 'public', 'chunks'), before, 'no upload was started');
});

test('what visitors type is shown as text, never as markup', async () => {
  const visitor = await demoVisitor(demo.url);
  const title = '<script>window.injected = 1</script><img src=x onerror="window.injected = 2">';
  const description = '"quoted" & <b>bold</b>';
  const fileName = '<img src=x onerror="window.injected = 3">.txt';
  const token = await uploadAs(visitor, randomBytes(2000), fileName);
  const saved = await postDemoForm(at('documents'), { csrf_token: visitor.csrf, title, description, file: token }, visitor);
  assert.equal(saved.status, 303);
  const id = /created=(\d+)/.exec(saved.location)[1];

  const page = await browser.newPage();
  await page.goto(at(saved.location));
  const row = page.locator(`#document-${id}`);
  assert.equal(await row.locator('.title').textContent(), title);
  assert.equal(await row.locator('.description').textContent(), description);
  assert.equal(await row.locator('a.download').textContent(), fileName);
  assert.equal(await row.locator('script, img, b').count(), 0);
  assert.equal(await page.evaluate(() => window.injected), undefined);
  await page.close();
});
