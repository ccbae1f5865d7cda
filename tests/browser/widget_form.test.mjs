// The drop-in form widget: <input type="file" data-resumable="/upload"> in a form. Submission is
// held while uploading (or waits), the form posts the server's token, edit forms offer "clear",
// restrictions explain themselves, and everything works from the keyboard and is announced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { artifactsDir, referenceDigest, removeDir, scratchDir } from './harness.mjs';
import { MiB, claim, launchBrowser, openContext, startTestServer } from './widget_support.mjs';

let dir, server, browser;

before(async () => {
  dir = scratchDir('widget-form');
  server = await startTestServer({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
});

// Each test uploads its own file: a file the server already holds completely would be "done" at once.
function makeFile(name, size = 3 * MiB + 17) {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(size));
  return { path, digest: referenceDigest(path) };
}

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0);
});

async function formPage(params = {}) {
  const context = await openContext(browser);
  const page = await context.newPage();
  // Everything added to the live region (what a screen reader speaks), in order.
  await page.addInitScript(() => {
    window.announcements = [];
    document.addEventListener('DOMContentLoaded', () => {
      new MutationObserver((records) => {
        for (const record of records) {
          if (!record.target.classList || !record.target.classList.contains('rsm-live')) continue;
          for (const node of record.addedNodes) window.announcements.push(node.textContent);
        }
      }).observe(document.body, { subtree: true, childList: true });
    });
  });
  const query = new URLSearchParams({ 'chunk-size': '1MiB', ...params });
  await page.goto(`${server.url}/tests/browser/pages/widget-form.html?${query}`);
  return { context, page };
}

// Holds every chunk request until the returned function is called, so "still uploading" lasts
// exactly as long as a test needs.
async function holdChunks(page) {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  await page.route((url) => url.pathname === '/upload', async (route) => {
    if (route.request().method() === 'POST') await gate;
    // A request the widget aborted meanwhile (pause) can no longer be continued: nothing to do.
    await route.continue().catch(() => {});
  });
  return release;
}

const row = (page) => page.locator('.rsm-file');
const waitForState = (page, state) => page.locator(`.rsm-file[data-state="${state}"]`).waitFor({ timeout: 60000 });
const notice = (page) => page.locator('.rsm-notice');

async function submittedParams(page) {
  await page.waitForURL(/submitted\.html/, { timeout: 60000 });
  return new URL(page.url()).searchParams;
}

test('the form cannot be sent while its upload runs; afterwards it posts the token of the verified file', async () => {
  const report = makeFile('report.bin');
  const { context, page } = await formPage();
  const release = await holdChunks(page);
  await page.setInputFiles('#attachment', report.path);
  await waitForState(page, 'uploading');
  await page.click('#send');
  await notice(page).waitFor();
  assert.equal(await notice(page).textContent(), 'The form can be sent when the upload has finished.');
  assert.match(page.url(), /widget-form\.html/, 'still on the form');
  assert.ok((await page.evaluate(() => window.announcements)).includes('The form can be sent when the upload has finished.'));
  release();
  await waitForState(page, 'done');
  await page.click('#send');
  const sent = await submittedParams(page);
  assert.equal(sent.get('title'), 'Quarterly');
  assert.equal(sent.getAll('attachment').length, 1);
  const claimed = await claim(server, sent.get('attachment'));
  assert.equal(claimed.status, 200);
  assert.equal(claimed.body.fileDigest, report.digest);
  assert.equal(claimed.body.fileName, 'report.bin');
  await context.close();
});

test('with data-resumable-submit="wait" the form sends itself once the upload has finished', async () => {
  const report = makeFile('wait.bin');
  const { context, page } = await formPage({ submit: 'wait' });
  const release = await holdChunks(page);
  await page.setInputFiles('#attachment', report.path);
  await waitForState(page, 'uploading');
  await page.click('#send');
  await notice(page).waitFor();
  assert.equal(await notice(page).textContent(), 'The form will be sent as soon as the upload has finished.');
  assert.equal(await page.getAttribute('#report', 'aria-busy'), 'true');
  release();
  const sent = await submittedParams(page);
  const claimed = await claim(server, sent.get('attachment'));
  assert.equal(claimed.body.fileDigest, report.digest);
  await context.close();
});

test('a required field without a file keeps the form and sends the keyboard focus to the file picker', async () => {
  const { context, page } = await formPage();
  await page.click('#send');
  await notice(page).waitFor();
  assert.equal(await notice(page).textContent(), 'Choose a file to upload.');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'rsm-browse');
  assert.match(page.url(), /widget-form\.html/);
  await context.close();
});

test('an edit form shows the current file with a clear choice, which a new upload replaces', async () => {
  const report = makeFile('replacement.bin');
  const { context, page } = await formPage({ 'current-name': 'old <b>report</b>.pdf', 'current-url': '/files/old.pdf', optional: '1' });
  const current = page.locator('.rsm-current');
  assert.equal(await current.locator('a').textContent(), 'old <b>report</b>.pdf', 'the name is text, not markup');
  assert.equal(await current.locator('a').getAttribute('href'), '/files/old.pdf');
  const clear = page.getByRole('checkbox', { name: 'Clear' });
  assert.equal(await clear.getAttribute('name'), 'attachment-clear');

  await page.click('#send');
  let sent = await submittedParams(page);
  assert.deepEqual([...sent.keys()].sort(), ['attachment', 'title']);
  assert.equal(sent.get('attachment'), '');

  await page.goBack();
  await page.getByRole('checkbox', { name: 'Clear' }).check();
  await page.click('#send');
  sent = await submittedParams(page);
  assert.equal(sent.get('attachment-clear'), 'on');
  assert.equal(sent.get('attachment'), '');

  await page.goBack();
  await page.setInputFiles('#attachment', report.path);
  await waitForState(page, 'done');
  assert.equal(await page.getByRole('checkbox', { name: 'Clear' }).isDisabled(), true, 'a new file cannot also be cleared');
  await context.close();
});

test('restrictions on size, type and count reject files with messages naming each one', async () => {
  const { context, page } = await formPage({ multiple: '1', 'max-files': '2', 'max-size': '1MiB', accept: '.txt,image/*', optional: '1' });
  const small = Buffer.from('hello');
  await page.setInputFiles('#attachment', [
    { name: 'a.txt', mimeType: 'text/plain', buffer: small },
    { name: 'big.txt', mimeType: 'text/plain', buffer: Buffer.alloc(MiB + 1) },
    { name: 'tool.exe', mimeType: 'application/octet-stream', buffer: small },
    { name: 'b.png', mimeType: 'image/png', buffer: small },
    { name: 'c.txt', mimeType: 'text/plain', buffer: small },
  ]);
  await notice(page).waitFor();
  assert.equal(await notice(page).textContent(), [
    'big.txt is too large: files may be at most 1.0 MiB.',
    'tool.exe is not an accepted type (.txt, image/*).',
    'c.txt was not added: at most 2 files can be uploaded.',
  ].join(' '));
  assert.deepEqual(await row(page).locator('.rsm-file-name').allTextContents(), ['a.txt', 'b.png']);
  await page.locator('.rsm-file[data-state="done"]').nth(1).waitFor();
  await page.click('#send');
  const sent = await submittedParams(page);
  assert.equal(sent.getAll('attachment').length, 2, 'one token per uploaded file');
  await context.close();
});

test('keyboard only: choose, pause, resume and remove; progress and states reach assistive technology', async () => {
  const report = makeFile('keyboard.bin');
  const { context, page } = await formPage();
  const release = await holdChunks(page);
  // Listening from the start lets Playwright intercept the picker before any key is pressed.
  const chooser = page.waitForEvent('filechooser');
  await page.focus('#title');
  await page.keyboard.press('Tab');
  const browse = page.getByRole('button', { name: 'Attachment Choose a file…' });
  assert.ok(await browse.evaluate((node) => node === document.activeElement), 'Tab reaches the file picker button');
  await page.keyboard.press('Enter');
  await (await chooser).setFiles(report.path);
  await waitForState(page, 'uploading');

  const bar = row(page).getByRole('progressbar', { name: 'Upload of keyboard.bin' });
  assert.deepEqual([await bar.getAttribute('aria-valuemin'), await bar.getAttribute('aria-valuemax')], ['0', '100']);

  await page.keyboard.press('Tab');
  const pause = page.getByRole('button', { name: 'Pause keyboard.bin' });
  assert.ok(await pause.evaluate((node) => node === document.activeElement), 'Tab reaches the pause button');
  await page.keyboard.press('Enter');
  await waitForState(page, 'paused');
  const resume = page.getByRole('button', { name: 'Resume keyboard.bin' });
  assert.ok(await resume.evaluate((node) => node === document.activeElement), 'focus stays on the toggled button');
  await page.keyboard.press('Enter');
  await waitForState(page, 'uploading');
  release();
  await waitForState(page, 'done');
  assert.equal(await bar.getAttribute('aria-valuenow'), '100');
  assert.equal(await bar.getAttribute('aria-valuetext'), '100% (3.0 MiB of 3.0 MiB)');
  await page.screenshot({ path: join(artifactsDir(), 'widget-form-done.png') });

  const remove = page.getByRole('button', { name: 'Remove keyboard.bin' });
  assert.ok(await remove.evaluate((node) => node === document.activeElement), 'focus moved off the hidden pause button');
  const deleted = page.waitForResponse((response) => response.request().method() === 'DELETE');
  await page.keyboard.press('Enter');
  assert.equal((await deleted).status(), 204, 'removing a finished, unclaimed upload deletes it on the server');
  assert.equal(await row(page).count(), 0);
  assert.ok(await browse.evaluate((node) => node === document.activeElement), 'focus returns to the file picker');
  const said = await page.evaluate(() => window.announcements);
  for (const expected of ['keyboard.bin added.', 'keyboard.bin: Paused.', 'keyboard.bin: Uploading.', 'keyboard.bin: Done.',
    'All uploads finished.', 'keyboard.bin removed.']) {
    assert.ok(said.includes(expected), `announced "${expected}" (said: ${said.join(' | ')})`);
  }
  await context.close();
});

test("a permanent error shows the server's message as text, and Retry starts the file again", async () => {
  const report = makeFile('refused.bin');
  const { context, page } = await formPage();
  const message = '<img src=x onerror="window.injected=1">Refused by policy.';
  await page.route((url) => url.pathname === '/upload', (route) => route.request().method() === 'POST'
    ? route.fulfill({ status: 400, contentType: 'application/json',
      body: JSON.stringify({ status: 'error', error: 'invalid_parameter', message, retryable: false }) })
    : route.continue());
  await page.setInputFiles('#attachment', report.path);
  await waitForState(page, 'failed');
  assert.equal(await row(page).locator('.rsm-file-detail').textContent(), message);
  assert.equal(await row(page).locator('.rsm-file-state').textContent(), 'Failed');
  assert.equal(await page.locator('.rsm img').count(), 0, 'no element was created from the message');
  assert.equal(await page.evaluate(() => window.injected), undefined);
  assert.ok((await page.evaluate(() => window.announcements)).includes(`refused.bin: Failed. ${message}`));

  await page.click('#send');
  assert.equal(await notice(page).textContent(), 'An upload failed: retry or remove it before sending the form.');
  await page.unroute((url) => url.pathname === '/upload');
  await page.unrouteAll();
  await page.getByRole('button', { name: 'Retry refused.bin' }).click();
  await waitForState(page, 'done');
  await context.close();
});

test('several files: overall progress, pause all, resume all, and files dropped onto the widget', async () => {
  const report = makeFile('several.bin');
  const { context, page } = await formPage({ multiple: '1' });
  const release = await holdChunks(page);
  await page.setInputFiles('#attachment', report.path);
  // Drop a second file the way a browser delivers a drop.
  const dataTransfer = await page.evaluateHandle(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(2 * 1048576 + 5).fill(7)], 'dropped.bin'));
    return transfer;
  });
  await page.dispatchEvent('.rsm-drop', 'dragenter', { dataTransfer });
  assert.equal(await page.locator('.rsm-drop.rsm-dragover').count(), 1, 'the drop zone shows it accepts the drag');
  await page.dispatchEvent('.rsm-drop', 'drop', { dataTransfer });
  await page.locator('.rsm-file').nth(1).waitFor();
  assert.deepEqual(await row(page).locator('.rsm-file-name').allTextContents(), ['several.bin', 'dropped.bin']);

  const total = page.getByRole('progressbar', { name: 'All uploads' });
  assert.equal(await total.getAttribute('aria-valuenow'), '0');
  await page.getByRole('button', { name: 'Pause all' }).click();
  await page.locator('.rsm-file[data-state="paused"]').nth(1).waitFor();
  await page.getByRole('button', { name: 'Resume all' }).click();
  release();
  await page.locator('.rsm-file[data-state="done"]').nth(1).waitFor({ timeout: 60000 });
  await page.waitForFunction(() => document.querySelector('.rsm-summary .rsm-bar').getAttribute('aria-valuenow') === '100');
  await page.click('#send');
  const tokens = (await submittedParams(page)).getAll('attachment');
  assert.equal(tokens.length, 2);
  const names = [];
  for (const token of tokens) names.push((await claim(server, token)).body.fileName);
  assert.deepEqual(names.sort(), ['dropped.bin', 'several.bin']);
  await context.close();
});
