// The device demo's pages (demo/device) in Chromium over HTTPS: an update whose browser closes half
// way activates nothing and leaves the slot receiving; a later visit with the same file resumes it
// (only the missing chunks are sent), the signed image is verified and pending; the status page
// shows it and confirms it from the keyboard.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { openSync, readSync, closeSync, readFileSync } from 'node:fs';
import { launchBrowser, removeDir, scratchDir, writeRandomFile } from './harness.mjs';

const MiB = 1048576;
const SLOT_SIZE = 24 * MiB;
let dir, device, browser, image;

function run(bin, args) { return execFileSync(bin, args, { encoding: 'utf8' }); }

async function startDevice(slotDir, publicKey) {
  const child = spawn(process.env.RESUMABLE_DEVICE_DEMO_BIN, ['--slot-dir', slotDir, '--public-key', publicKey, '--port', '0',
    '--slot-size', String(SLOT_SIZE)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the device demo did not start: ${output}`)), 20000);
    child.stdout.on('data', (d) => {
      output += d;
      const m = /device demo on (https:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the device demo exited with ${code}: ${output}`)); });
  });
  return { url, output: () => output, async stop() { child.kill('SIGTERM'); const [code] = await once(child, 'exit'); return code; } };
}

function slotBytes(slotDir, length) {
  const buffer = Buffer.alloc(length);
  const fd = openSync(join(slotDir, 'slot-b.img'), 'r');
  readSync(fd, buffer, 0, length, 0);
  closeSync(fd);
  return buffer;
}

before(async () => {
  dir = scratchDir('device-demo');
  const cli = process.env.RESUMABLE_CLI_BIN;
  run(cli, ['keygen', '--secret', join(dir, 'fw.sec'), '--public', join(dir, 'fw.pub')]);
  await writeRandomFile(join(dir, 'firmware.bin'), 12 * MiB + 777);
  run(cli, ['sign', '--key', join(dir, 'fw.sec'), join(dir, 'firmware.bin')]);
  image = join(dir, 'firmware.bin.signed');
  device = await startDevice(join(dir, 'slots'), join(dir, 'fw.pub'));
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const code = await device?.stop();
  removeDir(dir);
  assert.equal(code, 0, 'the device demo stops cleanly on SIGTERM');
});

test('closed mid-update: nothing activated; a later visit resumes, verifies, and the status page confirms it', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const status = async () => (await context.request.get(`${device.url}/api/status`)).json();
  const chunkCount = Math.floor((12 * MiB + 777 + 112) / MiB);

  // First visit: four chunks get through, then the connection hangs (held below) and the page closes.
  const first = await context.newPage();
  let allowed = 4;
  let acknowledged = 0;
  await first.route('**/upload?*', (route) => {
    if (route.request().method() !== 'POST') return route.continue();
    if (allowed-- > 0) return route.continue();
    return undefined;  // held: never answered, as on a link that died
  });
  first.on('response', (r) => { if (r.request().method() === 'POST' && r.status() === 200) acknowledged++; });
  await first.goto(`${device.url}/device/update.html`);
  await first.setInputFiles('#image', image);
  for (let waited = 0; acknowledged < 4 && waited < 30000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  assert.equal(acknowledged, 4);
  await first.close();
  let state = await status();
  assert.equal(state.pending, null, 'nothing is pending after the browser closed');
  assert.equal(state.running.slot, 'a');
  const slotB = state.slots.find((s) => s.name === 'b');
  assert.equal(slotB.state, 'receiving');
  assert.equal(slotB.received, 4 * MiB);

  // The status page says so, with no pending section.
  const statusPage = await context.newPage();
  await statusPage.goto(`${device.url}/device/`);
  await statusPage.waitForSelector('#slots tr[data-slot="b"][data-state="receiving"]');
  assert.equal(await statusPage.isHidden('#pending-section'), true);
  await statusPage.close();

  // A later visit with the same file: the widget asks what the device holds and sends the rest.
  const second = await context.newPage();
  const posts = [];
  second.on('request', (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/upload') posts.push(r.url()); });
  await second.goto(`${device.url}/device/update.html`);
  await second.setInputFiles('#image', image);
  await second.waitForFunction(() => /Verified and written/.test(document.getElementById('outcome').textContent), null, { timeout: 60000 });
  assert.ok(posts.length <= chunkCount - 4 + 1, `only missing chunks were sent: ${posts.length} of ${chunkCount}`);
  state = await status();
  assert.equal(state.pending?.slot, 'b');
  const bytes = readFileSync(image);
  assert.ok(slotBytes(join(dir, 'slots'), bytes.length).equals(bytes), 'slot B holds the image byte for byte');
  await second.close();

  // Confirm from the keyboard on the status page.
  const page = await context.newPage();
  await page.goto(`${device.url}/device/`);
  await page.waitForSelector('#pending-section:not([hidden])');
  assert.match(await page.textContent('#pending-text'), new RegExp(state.pending.digest));
  await page.focus('#confirm');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /Confirmed/.test(document.getElementById('message').textContent));
  assert.equal(await page.textContent('#running-slot'), 'B');
  assert.equal((await status()).running.slot, 'b');
  await context.close();
});
