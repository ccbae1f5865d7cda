// Shared by the browser tests: start the real demo server, launch Debian's Chromium through
// playwright-core, make large test files and hash them with coreutils.
import { spawn, execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { closeSync, createWriteStream, mkdtempSync, mkdirSync, openSync, readSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// The tree digest of a file by the Python reference (one definition, in support.mjs).
export { referenceDigest } from '../reliability/support.mjs';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function scratchDir(prefix) {
  return mkdtempSync(join(tmpdir(), `resumable-${prefix}-`));
}

export function artifactsDir() {
  const dir = process.env.RESUMABLE_ARTIFACTS_DIR ?? join(tmpdir(), 'resumable-test-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Starts a server executable that prints "listening on URL" (http or https) when ready; resolves then. `url` keeps
// the trailing slash it printed. stop() sends SIGTERM and resolves to the exit code; an exit nobody
// asked for is reported with the server's output, so a crash does not look like a client failure.
export async function startServerProcess(bin, args, label, env = {}) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start: ${output}`)), 15000);
    child.stdout.on('data', (d) => {
      output += d;
      const m = /listening on (https?:\/\/\S+)/.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${label} exited with ${code}: ${output}`)); });
  });
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`${label} on ${url} exited unexpectedly (${code ?? signal}):\n${output}`);
  });
  return {
    url,
    pid: child.pid,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
      stopping = true;
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      return code;
    },
  };
}

// Starts the demo on a free port (or `--port` in args); `env` is added to the environment.
export async function startDemo({ dataDir, args = [], env = {} } = {}) {
  const bin = process.env.RESUMABLE_DEMO_BIN;
  if (!bin) throw new Error('RESUMABLE_DEMO_BIN must name the demo executable');
  return startServerProcess(bin, ['--port', '0', '--data-dir', dataDir, ...args], 'demo', env);
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

// Writes `size` random bytes to `path` in 4 MiB pieces (never the whole file in memory).
export async function writeRandomFile(path, size) {
  const out = createWriteStream(path);
  for (let written = 0; written < size;) {
    const n = Math.min(4 * 1048576, size - written);
    if (!out.write(randomBytes(n))) await once(out, 'drain');
    written += n;
  }
  out.end();
  await once(out, 'finish');
}

export function b2sum256(path) {
  return execFileSync('b2sum', ['-l', '256', path], { encoding: 'utf8' }).split(' ')[0];
}

// `size` bytes of the file at `path` from `offset`.
export function fileBytes(path, offset, size) {
  const buffer = Buffer.alloc(size);
  const fd = openSync(path, 'r');
  try { readSync(fd, buffer, 0, size, offset); } finally { closeSync(fd); }
  return buffer;
}

// The after() of the demo tests: close the browser, stop the demo (which must exit cleanly on
// SIGTERM) and remove the scratch folder.
export async function endDemoSession({ browser, demo, dir }) {
  await browser?.close();
  const code = await demo?.stop();
  removeDir(dir);
  assert.equal(code, 0, 'the demo exits cleanly on SIGTERM');
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// Starts tests/support's resumable_test_server (RESUMABLE_TEST_SERVER_BIN) with the upload endpoint at
// /upload, on a free port or on `port` (to restart a server where clients expect it). `pid` is the
// server process itself (for /proc/<pid>/status).
export async function startTestServer({ dataDir, port = 0, args = [] } = {}) {
  const bin = process.env.RESUMABLE_TEST_SERVER_BIN;
  if (!bin) throw new Error('RESUMABLE_TEST_SERVER_BIN must name the test server executable');
  return startServerProcess(bin, ['--port', String(port), '--data-dir', dataDir, ...args], 'test server');
}

// ---- The demo application (demo_*.test.mjs) ----------------------------------------------------

// True when the two files hold the same bytes (coreutils cmp).
export function sameBytes(pathA, pathB) {
  try {
    execFileSync('cmp', ['-s', pathA, pathB]);
    return true;
  } catch {
    return false;
  }
}

// A new visitor of the demo, as node sees it: opens the public form and keeps the session cookie it
// sets and the page's CSRF token. `cookie` is ready for a Cookie header.
export async function demoVisitor(baseUrl) {
  const response = await fetch(new URL('documents/new', baseUrl));
  const setCookie = response.headers.get('set-cookie') ?? '';
  const session = /demo_session=([0-9a-f]+)/.exec(setCookie);
  const csrf = /<meta name="csrf-token" content="([0-9a-f]+)">/.exec(await response.text());
  if (!session || !csrf) throw new Error(`the demo's form did not start a session (Set-Cookie: ${setCookie})`);
  return { cookie: `demo_session=${session[1]}`, csrf: csrf[1] };
}

// The same for a Playwright browser context that has opened a demo page: its session cookie and
// the CSRF token of the open page.
export async function demoSessionOf(context, page) {
  const cookie = (await context.cookies()).find((c) => c.name === 'demo_session');
  const csrf = await page.getAttribute('meta[name="csrf-token"]', 'content');
  if (!cookie || !csrf) throw new Error('the page has no demo session');
  return { cookie: `demo_session=${cookie.value}`, csrf, details: cookie };
}

// Posts a urlencoded form to the demo without following the redirect; `session` from demoVisitor
// or demoSessionOf (omit for none).
export async function postDemoForm(url, fields, session) {
  const response = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...(session ? { Cookie: session.cookie } : {}) },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, location: response.headers.get('location'), text: await response.text() };
}

// Sends chunk `number` of a file split into `chunkSize` pieces (resumable.js parameters, raw body) to
// an upload endpoint (docs/protocol.md), as the widget does. `headers` e.g. Cookie and X-CSRF-Token.
// Resolves to { status, body } with the parsed JSON reply.
export async function sendChunk(endpointUrl, { bytes, number = 1, chunkSize = bytes.length, identifier, fileName, headers = {} }) {
  const chunkCount = Math.max(1, Math.floor(bytes.length / chunkSize));
  const start = (number - 1) * chunkSize;
  const end = number === chunkCount ? bytes.length : start + chunkSize;
  const query = new URLSearchParams({
    resumableChunkNumber: String(number), resumableChunkSize: String(chunkSize),
    resumableCurrentChunkSize: String(end - start), resumableTotalSize: String(bytes.length),
    resumableTotalChunks: String(chunkCount), resumableIdentifier: identifier, resumableFilename: fileName,
  });
  const response = await fetch(`${endpointUrl}?${query}`, {
    method: 'POST', headers: { 'Content-Type': 'application/octet-stream', ...headers }, body: bytes.subarray(start, end),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
