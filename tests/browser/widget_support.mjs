// Shared by the widget's browser tests (widget_*.test.mjs): start the real test server, open pages
// as a given principal, read what the server holds. The widget is always loaded from the server's
// own /upload/widget/ (compiled into the server library), as a deployed page would.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { launchBrowser } from './harness.mjs';

export const MiB = 1048576;
export const USER = 'alice';

// Starts resumable_test_server; resolves once it prints its URL. `port` restarts it on a known one.
export async function startTestServer({ dataDir, port = 0, args = [] }) {
  const bin = process.env.RESUMABLE_TEST_SERVER_BIN;
  if (!bin) throw new Error('RESUMABLE_TEST_SERVER_BIN must name the test server executable');
  const child = spawn(bin, ['--port', String(port), '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (d) => { output += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test server did not start: ${output}`)), 15000);
    child.stdout.on('data', (d) => {
      output += d;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) { clearTimeout(timer); resolve(match[1].replace(/\/$/, '')); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`test server exited with ${code}: ${output}`)); });
  });
  let stopping = false;
  child.on('exit', (code, signal) => {
    if (!stopping) console.error(`test server on ${url} exited unexpectedly (${code ?? signal}):\n${output}`);
  });
  return {
    url,
    port: Number(new URL(url).port),
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

// A browser context whose every request carries the test principal, with long tasks recorded from
// the first script on (window.longTasks: durations in ms).
export async function openContext(browser, { user = USER } = {}) {
  const context = await browser.newContext({ extraHTTPHeaders: user ? { 'X-Test-User': user } : {} });
  await context.addInitScript(() => {
    window.longTasks = [];
    try {
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) window.longTasks.push(entry.duration);
      }).observe({ type: 'longtask', buffered: true });
    } catch { /* no long-task timing: the list stays empty and the test says so */ }
  });
  return context;
}

export async function serverJson(server, method, path, { user = USER } = {}) {
  const response = await fetch(server.url + path, { method, headers: user ? { 'X-Test-User': user } : {} });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export const uploadStatus = (server, identifier) =>
  serverJson(server, 'GET', `/upload/status?identifier=${encodeURIComponent(identifier)}`);

export const claim = (server, token) => serverJson(server, 'POST', `/test/claim?token=${encodeURIComponent(token)}`);

// Records the page's requests to the upload endpoint: chunk POSTs (by number), status GETs, DELETEs.
export function recordEndpointRequests(page) {
  const log = { chunks: [], status: 0, deletes: 0 };
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.pathname === '/upload' && request.method() === 'POST') log.chunks.push(Number(url.searchParams.get('resumableChunkNumber')));
    if (url.pathname === '/upload/status') log.status++;
    if (url.pathname === '/upload' && request.method() === 'DELETE') log.deletes++;
  });
  return log;
}

export { launchBrowser };
