// The demo's admin (issue 5): the first admin comes from the command line, login works and a wrong
// password fails, the session cookie is HttpOnly and SameSite=Strict, the staff-only upload
// endpoint refuses anonymous and visitor requests before writing a byte, admin posts need the CSRF
// token, create / edit (replace, clear) / delete keep the files on disk in step with the records,
// and the uploads page shows uploads in progress and collects stale ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  artifactsDir, referenceDigest, demoSessionOf, demoVisitor, endDemoSession, launchBrowser, postDemoForm, sameBytes,
  scratchDir, sendChunk, startDemo,
} from './harness.mjs';

const MiB = 1048576;
const ADMIN = 'alice';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
let dir, dataDir, demo, browser, adminContext, adminPage;

before(async () => {
  dir = scratchDir('demo-admin');
  dataDir = join(dir, 'data');
  // The first admin, created from the command line; the password comes from the environment.
  const created = execFileSync(process.env.RESUMABLE_DEMO_BIN, ['--data-dir', dataDir, '--create-admin', ADMIN], {
    env: { ...process.env, RESUMABLE_DEMO_ADMIN_PASSWORD: PASSWORD }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.match(created, /admin alice created/);
  // --stale-after 0s: every unfinished upload is stale at once, so "Collect" has work without waiting.
  demo = await startDemo({ dataDir, args: ['--stale-after', '0s'] });
  browser = await launchBrowser();
});

after(() => endDemoSession({ browser, demo, dir }));

const at = (path) => new URL(path, demo.url).href;
const entries = (...parts) => readdirSync(join(dataDir, ...parts)).sort();
const waitUntilDone = (page) => page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 120000 });

function makeFile(name, size) {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(size));
  return { path, name, digest: referenceDigest(path) };
}

// Submits the login form and resolves to the HTTP status of its reply.
async function submitLogin(page, name, password) {
  await page.fill('#name', name);
  await page.fill('#password', password);
  const [reply] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'),
    page.click('#login'),
  ]);
  await page.waitForLoadState();
  return reply.status();
}

test('admin login: a wrong password fails; the right one starts a new HttpOnly, SameSite=Strict session', async () => {
  adminContext = await browser.newContext({ reducedMotion: 'reduce' });
  adminPage = await adminContext.newPage();
  await adminPage.goto(at('admin/'));
  assert.equal(new URL(adminPage.url()).pathname, '/admin/login', 'the admin sends visitors to the login form');
  const visitorCookie = (await adminContext.cookies()).find((c) => c.name === 'demo_session').value;

  assert.equal(await submitLogin(adminPage, ADMIN, 'not the password'), 403);
  assert.equal(await adminPage.textContent('#login-error'), 'The name or password is wrong.');
  assert.equal(await submitLogin(adminPage, 'mallory', PASSWORD), 403, 'an unknown name fails the same way');
  assert.equal(await adminPage.textContent('#login-error'), 'The name or password is wrong.');
  assert.equal(await adminPage.locator('#admin-name').count(), 0);

  const visitor = await demoSessionOf(adminContext, adminPage);
  const withoutToken = await postDemoForm(at('admin/login'), { name: ADMIN, password: PASSWORD }, visitor);
  assert.equal(withoutToken.status, 403, 'a login post without the CSRF token is refused, even with the right password');

  await submitLogin(adminPage, ADMIN, PASSWORD);
  assert.equal(new URL(adminPage.url()).pathname, '/admin/');
  assert.equal(await adminPage.textContent('#admin-name'), ADMIN);
  const cookie = (await adminContext.cookies()).find((c) => c.name === 'demo_session');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.notEqual(cookie.value, visitorCookie, 'logging in starts a session with a new cookie value');
  const stale = await fetch(at('admin/'), { redirect: 'manual', headers: { Cookie: `demo_session=${visitorCookie}` } });
  assert.equal(stale.status, 303, 'the cookie from before the login is worth nothing now');
});

test('the staff-only endpoint refuses anonymous and visitor requests before writing a byte', async () => {
  const visitor = await demoVisitor(demo.url);
  const admin = await demoSessionOf(adminContext, adminPage);
  const bytes = randomBytes(256 * 1024);
  const identifier = `staff-${randomBytes(6).toString('hex')}`;
  const send = (headers) => sendChunk(at('admin/upload'), { bytes, identifier, fileName: 'staff.bin', headers });

  const refusals = [
    [{}, 401, 'unauthenticated'],
    [{ Cookie: visitor.cookie, 'X-CSRF-Token': visitor.csrf }, 403, 'forbidden'],
    [{ Cookie: admin.cookie }, 401, 'unauthenticated'],
    [{ Cookie: visitor.cookie, 'X-CSRF-Token': admin.csrf }, 401, 'unauthenticated'],
  ];
  for (const [headers, status, error] of refusals) {
    const reply = await send(headers);
    assert.equal(reply.status, status, JSON.stringify(headers));
    assert.equal(reply.body.error, error);
  }
  assert.deepEqual(entries('uploads', 'staff', 'chunks'), [], 'no upload was started');
  assert.deepEqual(entries('uploads', 'staff', 'files'), [], 'no byte was written');

  const accepted = await send({ Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf });
  assert.equal(accepted.status, 200);
  assert.equal(accepted.body.status, 'complete');
  assert.equal(entries('uploads', 'staff', 'files').length, 1);
  const cancelled = await fetch(at(`admin/upload?identifier=${identifier}`), {
    method: 'DELETE', headers: { Cookie: admin.cookie, 'X-CSRF-Token': admin.csrf },
  });
  assert.equal(cancelled.status, 204);
  assert.deepEqual(entries('uploads', 'staff', 'files'), []);
});

test('an admin creates, edits (replacing and clearing the file) and deletes a document; the files follow on disk', async () => {
  const page = adminPage;
  const first = makeFile('report-v1.pdf', 3 * MiB + 17);
  const second = makeFile('report-v2.pdf', 2 * MiB + 5);
  const stored = () => entries('documents');

  await page.goto(at('admin/documents/new'));
  await page.fill('#title', 'Quarterly report');
  await page.setInputFiles('#file', first.path);
  await waitUntilDone(page);
  await page.click('#save');
  await page.waitForURL(/\/admin\/\?done=created$/);
  const row = page.locator('#documents tbody tr', { hasText: 'Quarterly report' });
  const id = (await row.getAttribute('id')).replace('document-', '');
  assert.equal(await row.locator('code.digest').textContent(), first.digest);
  const [firstStored] = stored();
  assert.ok(sameBytes(join(dataDir, 'documents', firstStored), first.path));

  // Replace the file: the old one leaves the disk.
  await row.locator('a.edit').click();
  await page.waitForURL(new RegExp(`/admin/documents/${id}$`));
  assert.equal(await page.textContent('.rsm-current-name'), 'report-v1.pdf', 'the edit form shows the current file');
  await page.screenshot({ path: join(artifactsDir(), 'demo-admin-edit.png') });
  await page.fill('#title', 'Quarterly report (revised)');
  await page.setInputFiles('#file', second.path);
  await waitUntilDone(page);
  await page.click('#save');
  await page.waitForURL(/\/admin\/\?done=saved$/);
  assert.equal(await page.textContent(`#document-${id} .title`), 'Quarterly report (revised)');
  assert.equal(await page.textContent(`#document-${id} code.digest`), second.digest);
  assert.equal(stored().length, 1);
  assert.notEqual(stored()[0], firstStored, 'the replaced file was deleted');
  assert.ok(sameBytes(join(dataDir, 'documents', stored()[0]), second.path));
  const publicList = await (await fetch(at(''))).text();
  assert.ok(publicList.includes(second.digest) && !publicList.includes(first.digest), 'the public list shows the new file');

  // Clear the file: the record stays, without a file.
  await page.goto(at(`admin/documents/${id}`));
  await page.check('input[name="file-clear"]');
  await page.click('#save');
  await page.waitForURL(/\/admin\/\?done=saved$/);
  assert.equal(await page.locator(`#document-${id} .no-file`).count(), 1);
  assert.deepEqual(stored(), [], 'the cleared file was deleted');
  assert.equal((await fetch(at(`documents/${id}/download`))).status, 404);

  // Attach a file again, then delete the record.
  await page.goto(at(`admin/documents/${id}`));
  await page.setInputFiles('#file', first.path);
  await waitUntilDone(page);
  await page.click('#save');
  await page.waitForURL(/\/admin\/\?done=saved$/);
  assert.equal(stored().length, 1);

  const admin = await demoSessionOf(adminContext, page);
  const forged = await postDemoForm(at(`admin/documents/${id}/delete`), {}, admin);
  assert.equal(forged.status, 403, 'a delete without the CSRF token is refused');
  const noFile = await postDemoForm(at(`admin/documents/${id}`), { csrf_token: admin.csrf, title: 'Forged', file: '/etc/passwd' }, admin);
  assert.equal(noFile.status, 400, 'a path in the admin form is refused too');
  assert.equal(stored().length, 1);
  assert.equal(await page.locator(`#document-${id}`).count(), 1);

  await page.locator(`#document-${id} a.delete`).click();
  assert.match(await page.textContent('main'), /report-v1\.pdf/, 'the confirmation names the file that goes');
  await page.click('#confirm-delete');
  await page.waitForURL(/\/admin\/\?done=deleted$/);
  assert.equal(await page.locator(`#document-${id}`).count(), 0);
  assert.deepEqual(stored(), [], 'deleting the record removed its file from disk');
  assert.equal((await fetch(at(`documents/${id}/download`))).status, 404);
});

test('the uploads page shows an upload in progress with its chunks and age, and collects it when stale', async () => {
  const page = adminPage;
  const visitor = await demoVisitor(demo.url);
  const identifier = `half-${randomBytes(6).toString('hex')}`;
  const bytes = randomBytes(3 * 65536);
  const first = await sendChunk(at('upload'), {
    bytes, chunkSize: 65536, number: 1, identifier, fileName: 'half-done.bin',
    headers: { Cookie: visitor.cookie, 'X-CSRF-Token': visitor.csrf },
  });
  assert.equal(first.body.status, 'chunk_stored');

  await page.goto(at('admin/uploads'));
  const row = page.locator('#uploads tbody tr', { hasText: 'half-done.bin' });
  assert.equal(await row.locator('.mount').textContent(), 'public');
  assert.equal(await row.locator('.chunks').textContent(), '1 of 3');
  assert.equal(await row.locator('.state').textContent(), 'uploading');
  assert.match(await row.locator('.age').textContent(), /^\d+ (s|min) ago$/);
  await page.screenshot({ path: join(artifactsDir(), 'demo-admin-uploads.png') });

  await page.click('#collect');
  await page.waitForURL(/\/admin\/uploads\?stale=1&unclaimed=0$/);
  assert.equal(await page.textContent('#notice'), 'Collected 1 stale upload and 0 finished uploads whose form was never sent.');
  assert.equal(await page.locator('#no-uploads').count(), 1);
  assert.deepEqual(entries('uploads', 'public', 'chunks'), []);
  const status = await fetch(at(`upload/status?identifier=${identifier}`), { headers: { Cookie: visitor.cookie, 'X-CSRF-Token': visitor.csrf } });
  assert.equal(status.status, 404, 'the collected upload is gone for its owner too');
});

test('logging out ends the admin session', async () => {
  const before = (await adminContext.cookies()).find((c) => c.name === 'demo_session').value;
  await adminPage.goto(at('admin/'));
  await adminPage.click('#logout');
  await adminPage.waitForURL(at(''));
  assert.equal(await adminPage.locator('#admin-name').count(), 0);
  const reuse = await fetch(at('admin/'), { redirect: 'manual', headers: { Cookie: `demo_session=${before}` } });
  assert.equal(reuse.status, 303, 'the logged-out cookie no longer opens the admin');
  await adminContext.close();
});
