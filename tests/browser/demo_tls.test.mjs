// The demo over HTTPS (issue 14): started with --tls self-signed it generates a key and certificate
// into its data dir and prints the certificate's fingerprint; node, trusting exactly that
// certificate, uploads a file and saves a document whose stored bytes equal the original; the widget
// does the same in Chromium (which cannot trust the certificate, so this test alone passes
// --ignore-certificate-errors); a restart reuses the pair.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, endDemoSession, sameBytes, scratchDir, startDemo, writeRandomFile } from './harness.mjs';

const MiB = 1048576;
let dir, demo, browser, ca;

const dataPath = (...parts) => join(dir, 'data', ...parts);
const startTlsDemo = () => startDemo({ dataDir: dataPath(), args: ['--tls', 'self-signed'] });
const printedFingerprint = (server) => /TLS: certificate SHA-256 fingerprint ([0-9A-F:]+)/.exec(server.output())?.[1];

before(async () => {
  dir = scratchDir('demo-tls');
  demo = await startTlsDemo();
  ca = readFileSync(dataPath('tls', 'certificate.pem'));
});

after(() => endDemoSession({ browser, demo, dir }));

// One HTTPS request that trusts only the demo's certificate (node's fetch cannot be given a CA).
function httpsRequest(path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, demo.url), { method, headers, ca }, (response) => {
      const parts = [];
      response.on('data', (d) => parts.push(d));
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers,
        text: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('--tls self-signed generates a pair into the data dir and prints its fingerprint', () => {
  assert.match(demo.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
  assert.match(demo.output(), /TLS: generated the self-signed certificate \S+certificate\.pem/);
  assert.equal(printedFingerprint(demo), new X509Certificate(ca).fingerprint256);
  assert.equal(statSync(dataPath('tls', 'key.pem')).mode & 0o777, 0o600, 'only the owner reads the key');
});

test('node uploads a file over HTTPS and the saved document holds the same bytes', async () => {
  const form = await httpsRequest('documents/new');
  const cookie = /demo_session=[0-9a-f]+/.exec(form.headers['set-cookie']?.join(';') ?? '')?.[0];
  const csrf = /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(form.text)?.[1];
  assert.ok(cookie && csrf, 'the form over HTTPS starts a session');
  const bytes = randomBytes(3 * MiB + 17);
  const query = new URLSearchParams({
    resumableChunkNumber: '1', resumableChunkSize: String(bytes.length), resumableCurrentChunkSize: String(bytes.length),
    resumableTotalSize: String(bytes.length), resumableTotalChunks: '1',
    resumableIdentifier: `tls-${randomBytes(6).toString('hex')}`, resumableFilename: 'over-tls.bin',
  });
  const chunk = await httpsRequest(`upload?${query}`, {
    method: 'POST', body: bytes,
    headers: { Cookie: cookie, 'X-CSRF-Token': csrf, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length },
  });
  assert.equal(chunk.status, 200, chunk.text);
  const { status, token } = JSON.parse(chunk.text);
  assert.equal(status, 'complete');
  const body = new URLSearchParams({ csrf_token: csrf, title: 'Sent over TLS', file: token }).toString();
  const saved = await httpsRequest('documents', {
    method: 'POST', body, headers: { Cookie: cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(saved.status, 303, saved.text);
  const original = join(dir, 'over-tls.bin');
  writeFileSync(original, bytes);
  const stored = readdirSync(dataPath('documents'));
  assert.equal(stored.length, 1);
  assert.ok(sameBytes(dataPath('documents', stored[0]), original), 'the stored file equals the original');
});

test('the command-line uploader trusts the demo with --cacert, and refuses it without at once (exit 4)', async () => {
  const form = await httpsRequest('documents/new');
  const cookie = /demo_session=[0-9a-f]+/.exec(form.headers['set-cookie']?.join(';') ?? '')?.[0];
  const csrf = /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(form.text)?.[1];
  const path = join(dir, 'cli over tls.bin');
  await writeRandomFile(path, 2 * MiB + 3);
  const upload = (...extra) => spawnSync(process.env.RESUMABLE_CLI_BIN, ['upload', '--json', '--chunk-size', '1MiB',
    '--header', `Cookie: ${cookie}`, '--header', `X-CSRF-Token: ${csrf}`, ...extra, path, new URL('upload', demo.url).href],
  { encoding: 'utf8', timeout: 60000 });
  const started = Date.now();
  const untrusted = upload();
  assert.equal(untrusted.status, 4, `an untrusted certificate is not retried: ${untrusted.stderr}`);
  assert.match(untrusted.stderr, /--cacert FILE/);
  assert.ok(Date.now() - started < 10000, 'refused without waiting through retries');
  const trusted = upload('--cacert', dataPath('tls', 'certificate.pem'));
  assert.equal(trusted.status, 0, trusted.stderr);
  const line = JSON.parse(trusted.stdout.trim().split('\n').pop());
  assert.equal(line.fileDigest, execFileSync(process.env.RESUMABLE_DIGEST_BIN, [path], { encoding: 'utf8' }).split(' ')[0]);
  assert.match(line.token ?? '', /\S/, 'the final result carries the claim token');
});

test('the widget uploads over HTTPS in Chromium', async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'] });
  const path = join(dir, 'widget over tls.bin');
  await writeRandomFile(path, 9 * MiB + 5); // two of the form's 8 MiB chunks
  const before = new Set(readdirSync(dataPath('documents')));
  const page = await browser.newPage();
  await page.goto(new URL('documents/new', demo.url).href);
  await page.fill('#title', 'Widget over TLS');
  await page.setInputFiles('#file', path);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 120000 });
  await page.click('#save');
  await page.waitForURL(/^https:\/\/127\.0\.0\.1:\d+\/\?created=\d+$/);
  const added = readdirSync(dataPath('documents')).filter((name) => !before.has(name));
  assert.equal(added.length, 1);
  assert.ok(sameBytes(dataPath('documents', added[0]), path), 'the stored file equals the original');
  await page.close();
});

test('a restart reuses the self-signed pair', async () => {
  const fingerprint = printedFingerprint(demo);
  assert.equal(await demo.stop(), 0);
  demo = await startTlsDemo();
  assert.match(demo.output(), /TLS: reusing the self-signed certificate/);
  assert.equal(printedFingerprint(demo), fingerprint);
  const list = await httpsRequest('');
  assert.equal(list.status, 200);
  assert.match(list.text, /Widget over TLS/);
});
