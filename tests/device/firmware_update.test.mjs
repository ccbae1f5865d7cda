// Firmware updates into resumable_device_demo (demo/device, the slot store, docs/firmware.md),
// driven by the host's `resumable` command over HTTP (flipped bytes must reach the server, which
// TLS would turn into resets); natively or under the cross build's emulator (RESUMABLE_EMULATOR).
//   - refusals: a forged, an unsigned and a tampered image (422 image_rejected, nothing pending), an
//     image larger than the slot (413 before a byte is written: the slot file stays erased);
//   - a signed 16 MiB image through the fault proxy (drops, resets, stalls, truncations, flipped
//     bytes) lands in slot B byte for byte and is marked pending; after a SIGKILL the client's status
//     request still gets the final result (the upload stays unclaimed while pending); a second update is refused (409
//     update_pending); confirm makes B the running slot, and the next update goes to A;
//   - the demo SIGKILLed at random points (seeded: RESUMABLE_FIRMWARE_SEED) 12 times during an
//     upload: each restart resumes from the record area, far fewer bytes are sent than 12 fresh
//     starts would, the image verifies and is pending;
//   - a restart whose boot state says the update's slot now runs: the next chunk is refused (409
//     slot_active) and the running slot's bytes are untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { openSync, readSync, closeSync } from 'node:fs';
import { FaultProxy } from '../reliability/fault_proxy.mjs';
import { MiB, mkdirSync, readFileSync, rmSync, rng, scratchDir, sleep, writeFileSync, writeRandomFile } from '../reliability/support.mjs';
import { jsonLines, runCli, startCli } from '../cli/cli_support.mjs';

const SEED = Number(process.env.RESUMABLE_FIRMWARE_SEED ?? 20261202);
const SLOT_SIZE = 24 * MiB;
const IMAGE_PAYLOAD = 16 * MiB + 4321;

let dir, keys;
const running = new Set();
before(async () => {
  dir = scratchDir('firmware');
  keys = { secret: join(dir, 'fw.sec'), public: join(dir, 'fw.pub'), other: join(dir, 'other.sec') };
  assert.equal((await runCli(['keygen', '--secret', keys.secret, '--public', keys.public])).code, 0);
  assert.equal((await runCli(['keygen', '--secret', keys.other, '--public', join(dir, 'other.pub')])).code, 0);
});
after(async () => {
  for (const device of running) device.kill();
  rmSync(dir, { recursive: true, force: true });
});

// Starts the demo on `slotDir`; resolves once it listens. kill() is SIGKILL.
async function startDevice(slotDir) {
  const bin = process.env.RESUMABLE_DEVICE_DEMO_BIN;
  const emulator = process.env.RESUMABLE_EMULATOR ?? '';
  const args = ['--slot-dir', slotDir, '--public-key', keys.public, '--http', '--port', '0', '--slot-size', String(SLOT_SIZE)];
  const child = emulator ? spawn(emulator, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-20000); });
  const exited = once(child, 'exit');
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not start: ${stdout} ${stderr}`)), 30000);
    child.stdout.on('data', (d) => {
      stdout += d;
      const found = /device demo on http:\/\/127\.0\.0\.1:(\d+)\//.exec(stdout);
      if (found) { clearTimeout(timer); resolve(Number(found[1])); }
    });
    child.on('exit', () => { clearTimeout(timer); reject(new Error(`the demo exited: ${stdout} ${stderr}`)); });
  });
  const device = {
    port, url: `http://127.0.0.1:${port}`, log: () => stderr,
    kill() { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); running.delete(device); return exited; },
    async stop() { if (child.exitCode === null) child.kill('SIGTERM'); const [code] = await exited; running.delete(device); return code; },
  };
  running.add(device);
  return device;
}

async function deviceStatus(device) {
  const response = await fetch(`${device.url}/api/status`);
  assert.equal(response.status, 200);
  return response.json();
}

function makeImage(name, seed, { key = keys.secret, payload = IMAGE_PAYLOAD } = {}) {
  const raw = join(dir, `${name}.bin`);
  writeRandomFile(raw, payload);
  return { raw, signed: key ? `${raw}.signed` : raw, key };
}

async function sign(image) {
  const result = await runCli(['sign', '--key', image.key, image.raw, '-o', image.signed]);
  assert.equal(result.code, 0, result.stderr);
  return image.signed;
}

function firstBytes(path, length) {
  const buffer = Buffer.alloc(length);
  const fd = openSync(path, 'r');
  readSync(fd, buffer, 0, length, 0);
  closeSync(fd);
  return buffer;
}

// Whether the record area holds records (its first bytes are a record's magic, not erased flash).
async function deviceStatusAfterRestartProbe(slotDir) {
  return firstBytes(join(slotDir, 'records.img'), 4).toString('latin1') === 'RSR1' ? 1 : 0;
}

const upload = (path, base, extra = []) => runCli(['upload', '--json', '--quiet', '--chunk-size', '1MiB', '--parallel', '3',
  '--retry-delay', '20ms', '--max-retry-delay', '300ms', '--stall-timeout', '2s', ...extra, path, `${base}/upload`], { timeout: 300000 });

test('refusals, a signed image through faults, pending, a second update, confirm, the other slot', async () => {
  const slotDir = join(dir, 'device-1');
  mkdirSync(slotDir, { recursive: true });
  let device = await startDevice(slotDir);

  // Forged (another key), unsigned, tampered after signing: refused at release, nothing pending.
  const forged = makeImage('forged', 11, { key: keys.other });
  await sign(forged);
  const unsigned = makeImage('unsigned', 12, { key: null });
  const tampered = makeImage('tampered', 13);
  await sign(tampered);
  const bytes = readFileSync(tampered.signed);
  bytes[12345] ^= 0x20;
  writeFileSync(tampered.signed, bytes);
  for (const path of [forged.signed, unsigned.signed, tampered.signed]) {
    const result = await upload(path, device.url);
    assert.equal(result.code, 4, `refused: ${result.stderr}`);
    assert.match(result.stderr, /image_rejected/);
    const status = await deviceStatus(device);
    assert.equal(status.pending, null, 'nothing is marked pending');
    assert.equal(status.running.slot, 'a');
  }
  // Larger than the slot: refused before a byte is written (the slot file is erased again by the
  // refused images' successors only when one is created; check B's head is unchanged).
  const before = firstBytes(join(slotDir, 'slot-b.img'), 4096);
  const huge = makeImage('huge', 14, { payload: SLOT_SIZE + 1 });
  await sign(huge);
  const tooLarge = await upload(huge.signed, device.url);
  assert.equal(tooLarge.code, 4);
  assert.match(tooLarge.stderr, /file_too_large|413/);
  assert.deepEqual(firstBytes(join(slotDir, 'slot-b.img'), 4096), before, 'no byte of the large image was written');

  // A signed image through the fault proxy.
  const good = makeImage('good', 15);
  await sign(good);
  // The schedule is a function of the seed and each connection's number only (as in
  // tests/cli/cli_faults.test.mjs), so a run repeats.
  const FAULTS = ['drop', 'reset', 'stall', 'truncate', 'truncate-response', 'flip', 'flip'];
  const proxy = await new FaultProxy({
    target: () => device.port,
    randomFor: (index) => { const r = rng((Math.imul(index + 1, 0x9e3779b1) ^ SEED) >>> 0); for (let i = 0; i < 4; i++) r(); return r; },
    decide: (info, index, r) => (info.method === 'POST' && r() < 0.4 ? FAULTS[Math.floor(r() * FAULTS.length)] : null),
    stallMs: [20, 300],
  }).listen();
  try {
    const result = await upload(good.signed, proxy.url, ['--chunk-size', '512KiB', '--cookie-jar', join(dir, 'jar-1')]);
    assert.equal(result.code, 0, result.stderr);
    const [line] = jsonLines(result.stdout);
    const injected = proxy.injected();
    assert.ok(injected.flip >= 1 && injected.drop + injected.reset + injected.truncate + injected['truncate-response'] >= 1,
      `faults were injected: ${JSON.stringify(injected)}`);
    for (const r of proxy.records.filter((record) => record.fault === 'flip')) {
      assert.ok(r.error === 'chunk_digest_mismatch' || r.duplicate || r.replyStatus === 'complete',
        `a flipped chunk was refused, never stored: ${JSON.stringify(r)}`);
    }
    const status = await deviceStatus(device);
    assert.equal(status.pending?.slot, 'b', `pending in B: ${JSON.stringify(status)}`);
    assert.equal(status.pending.digest, line.fileDigest);
    const image = readFileSync(good.signed);
    assert.ok(firstBytes(join(slotDir, 'slot-b.img'), image.length).equals(image), 'slot B holds the image byte for byte');
  } finally {
    await proxy.close();
  }

  // The device dies right after the release (a client whose last reply was cut off): after the
  // restart its status request still gets the final result, and the image is still pending.
  await device.kill();
  device = await startDevice(slotDir);
  const after = await runCli(['status', '--json', '--chunk-size', '512KiB', '--cookie-jar', join(dir, 'jar-1'),
    `${device.url}/upload`, good.signed]);
  assert.equal(after.code, 0, after.stderr);
  assert.equal(jsonLines(after.stdout)[0].status, 'complete', `the final result after a restart: ${after.stdout}`);
  assert.equal((await deviceStatus(device)).pending?.slot, 'b');

  // While it is pending, no other update starts.
  const next = makeImage('next', 16, { payload: 3 * MiB + 1 });
  await sign(next);
  const refused = await upload(next.signed, device.url);
  assert.equal(refused.code, 4);
  assert.match(refused.stderr, /update_pending/);

  // Confirmed (the header keeps other sites' forms out), B runs; a restart keeps that; the next update goes to A.
  assert.equal((await fetch(`${device.url}/api/confirm`, { method: 'POST' })).status, 403);
  assert.equal((await fetch(`${device.url}/api/confirm`, { method: 'POST', headers: { 'X-Device-UI': '1' } })).status, 200);
  await device.stop();
  device = await startDevice(slotDir);
  assert.equal((await deviceStatus(device)).running.slot, 'b');
  const second = await upload(next.signed, device.url);
  assert.equal(second.code, 0, second.stderr);
  const status = await deviceStatus(device);
  assert.equal(status.pending?.slot, 'a');
  const nextBytes = readFileSync(next.signed);
  assert.ok(firstBytes(join(slotDir, 'slot-a.img'), nextBytes.length).equals(nextBytes));
  assert.ok(firstBytes(join(slotDir, 'slot-b.img'), 4096).equals(readFileSync(good.signed).subarray(0, 4096)), 'the running slot is untouched');
  assert.equal((await fetch(`${device.url}/api/rollback`, { method: 'POST', headers: { 'X-Device-UI': '1' } })).status, 200);
  assert.equal((await deviceStatus(device)).pending, null);
  await device.stop();
});

test('SIGKILLed 12 times at random points of an upload: each restart resumes from the record area', async () => {
  const slotDir = join(dir, 'device-2');
  mkdirSync(slotDir, { recursive: true });
  const image = makeImage('killed', 21);
  await sign(image);
  let device = await startDevice(slotDir);
  // The proxy follows the device to its new port after every restart.
  const proxy = await new FaultProxy({ target: () => device.port, decide: () => null }).listen();
  const random = rng(SEED + 1);
  const client = runCli(['upload', '--json', '--quiet', '--chunk-size', '512KiB', '--parallel', '2', '--limit-rate', '4MiB',
    '--retries', '1000', '--retry-delay', '20ms', '--max-retry-delay', '200ms', '--stall-timeout', '2s',
    image.signed, `${proxy.url}/upload`], { timeout: 300000 });
  const received = [];
  const receivedNow = async () => {
    const status = await deviceStatus(device).catch(() => null);
    return status?.pending ? Infinity : status?.slots.find((s) => s.name === 'b')?.received ?? 0;
  };
  try {
    // Each kill comes once the record holds a random 256 KiB to 1.25 MiB more than at the last one:
    // points spread over the whole upload, every one after some progress.
    let last = 0;
    for (let kill = 0; kill < 12; kill++) {
      const target = last + random.int(256 * 1024, 1280 * 1024);
      let now = await receivedNow();
      for (let waited = 0; now < target && waited < 30000; waited += 20) {
        await sleep(20);
        now = await receivedNow();
      }
      if (now === Infinity) break;  // finished before this kill
      received.push(now);
      last = now;
      await device.kill();
      device = await startDevice(slotDir);
    }
    assert.ok(received.length >= 10, `at least 10 kills during the upload: ${received}`);
    const result = await client;
    assert.equal(result.code, 0, `the upload finished: ${result.stderr}`);
    const [line] = jsonLines(result.stdout);
    const size = readFileSync(image.signed).length;
    // Twelve fresh starts would send the image about twelve times over; resuming sends it once
    // plus what each kill cut off (up to two chunks in flight).
    assert.ok(line.chunksSent <= line.chunkCount + 12 * 2,
      `chunks sent ${line.chunksSent} for an image of ${line.chunkCount} chunks (${size} bytes)`);
    for (let i = 1; i < received.length; i++) assert.ok(received[i] > received[i - 1], `each restart kept what was stored: ${received}`);
    const status = await deviceStatus(device);
    assert.equal(status.pending?.slot, 'b', `verified and pending after the restarts: ${JSON.stringify(status)}`);
    assert.equal(status.pending.digest, line.fileDigest);
    const bytes = readFileSync(image.signed);
    assert.ok(firstBytes(join(slotDir, 'slot-b.img'), bytes.length).equals(bytes), 'slot B holds the image byte for byte');
  } finally {
    await proxy.close();
    await device.stop();
  }
});

test('a restart whose boot state says the update\'s slot now runs: the next chunk is refused, that slot untouched', async () => {
  const slotDir = join(dir, 'device-3');
  mkdirSync(slotDir, { recursive: true });
  const image = makeImage('fallback', 31, { payload: 4 * MiB });
  await sign(image);
  let device = await startDevice(slotDir);
  // An update under way: cut (the device dies) after two of its four chunks or so.
  const cut = startCli(['upload', '--json', '--quiet', '--chunk-size', '1MiB', '--parallel', '1', '--limit-rate', '1MiB',
    '--retries', '0', '--cookie-jar', join(dir, 'jar-3'), image.signed, `${device.url}/upload`], { timeout: 60000 });
  await sleep(2500);
  await device.kill();
  await cut.done;
  assert.ok((await deviceStatusAfterRestartProbe(slotDir)) > 0, 'some of the update was recorded before the cut');
  const slotBefore = readFileSync(join(slotDir, 'slot-b.img'));
  writeFileSync(join(slotDir, 'boot-state.json'), '{"running":"b","running_image":null,"pending":null}\n');
  device = await startDevice(slotDir);
  const result = await upload(image.signed, device.url, ['--retries', '0', '--cookie-jar', join(dir, 'jar-3')]);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /slot_active/);
  assert.ok(readFileSync(join(slotDir, 'slot-b.img')).equals(slotBefore), 'the running slot was not written');
  assert.equal((await deviceStatus(device)).pending, null);
  await device.stop();
});
