// Shared by the widget's browser tests (widget_*.test.mjs): start the real test server, open pages
// as a given principal, read what the server holds. The widget is always loaded from the server's
// own /upload/widget/ (compiled into the server library), as a deployed page would.
import { launchBrowser, startTestServer as startSharedTestServer } from './harness.mjs';

export const MiB = 1048576;
export const USER = 'alice';

// The test server, with its URL without the trailing slash (these tests append absolute paths).
export async function startTestServer(options) {
  const server = await startSharedTestServer(options);
  const url = server.url.replace(/\/$/, '');
  return { ...server, url, port: Number(new URL(url).port) };
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
