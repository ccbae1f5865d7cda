// Browser measures in Debian's Chromium through playwright-core: BLAKE2b-256 in the page (wasm core vs
// hash-wasm), end-to-end uploads (our widget, unmodified resumable.js 1.1.0, tus-js-client → @tus/server)
// with main-thread long tasks, and resuming after a cut.
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { chromium } from 'playwright-core';
import { MiB, descendantsCpuSeconds, median } from './common.mjs';
import { openContext as openTestContext } from '../../browser/widget_support.mjs';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (Debian package chromium)`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

// A context whose pages record main-thread long tasks from their first script on (the browser tests'
// helper; the benchmark's server allows anonymous uploads, so no test principal is sent).
const openContext = (browser) => openTestContext(browser, { user: null });

const contentTypes = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

// Serves files below `dir` at `${origin}${prefix}` for this page (e.g. wasm core variants).
async function routeDirectory(page, origin, prefix, dir) {
  await page.route(`${origin}${prefix}**`, (route) => {
    const rel = new URL(route.request().url()).pathname.slice(prefix.length);
    const path = join(dir, rel);
    if (rel.includes('..') || !existsSync(path)) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, body: readFileSync(path), contentType: contentTypes[extname(path)] ?? 'application/octet-stream' });
  });
}

// ---- (4a) BLAKE2b-256 in the page ---------------------------------------------------------------

// Measures the core (as served by our server, or a variant from `variantsDir`) and hash-wasm over the
// same random bytes in one page, alternating, `runs` times each. Returns MiB/s medians and digests.
export async function hashBench(browser, server, { bytes, runs, slice = 16 * MiB, variant = null, variantsDir = null,
  breakdown = false }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    const origin = new URL(server.url).origin;
    await page.goto(`${origin}/tests/bench/pages/hash.html`);
    let coreUrl = `${origin}/upload/widget/resumable_core.js`;
    if (variant) {
      await routeDirectory(page, origin, '/bench-variants/', variantsDir);
      coreUrl = `${origin}/bench-variants/${variant}/resumable_core.js`;
    }
    await page.evaluate((url) => window.loadCore(url), coreUrl);
    await page.evaluate((n) => window.prepare(n), bytes);
    const rate = (ms) => bytes / MiB / (ms / 1000);
    const samples = { core: [], hashWasm: [], coreTwoHashers: [], ratio: [] };
    const digests = new Set();
    // One untimed pass each: compile tiers settle before timing.
    await page.evaluate((s) => window.hashCore(s, 1), slice);
    await page.evaluate((s) => window.hashWasm(s), slice);
    for (let i = 0; i < runs; ++i) {
      const order = i % 2 ? ['hashWasm', 'core'] : ['core', 'hashWasm'];
      const pair = {};
      for (const which of order) {
        const r = which === 'core'
          ? await page.evaluate((s) => window.hashCore(s, 1), slice)
          : await page.evaluate((s) => window.hashWasm(s), slice);
        samples[which].push(rate(r.ms));
        pair[which] = rate(r.ms);
        digests.add(r.digest);
      }
      samples.ratio.push(pair.core / pair.hashWasm); // adjacent in time: the least noisy comparison
      if (!variant) {
        const two = await page.evaluate((s) => window.hashCore(s, 2), slice);
        samples.coreTwoHashers.push(rate(two.ms) * 2); // bytes hashed per second, counting both states
      }
    }
    if (digests.size !== 1) throw new Error(`the core and hash-wasm disagree: ${[...digests]}`);
    const result = {
      core: median(samples.core), hashWasm: median(samples.hashWasm),
      coreTwoHashers: median(samples.coreTwoHashers), ratio: median(samples.ratio), samples,
    };
    if (breakdown) {
      result.staging = {};
      for (const piece of [64 * 1024, 256 * 1024, MiB, 4 * MiB, 16 * MiB]) {
        const both = [];
        const copy = [];
        const hash = [];
        for (let i = 0; i < runs; ++i) {
          both.push(rate((await page.evaluate(([p]) => window.hashCoreStaged(p, 'both'), [piece])).ms));
          copy.push(rate((await page.evaluate(([p]) => window.hashCoreStaged(p, 'copy'), [piece])).ms));
          hash.push(rate((await page.evaluate(([p]) => window.hashCoreStaged(p, 'hash'), [piece])).ms));
        }
        result.staging[piece] = { both: median(both), copy: median(copy), hash: median(hash) };
      }
    }
    return result;
  } finally {
    await context.close();
  }
}

// The widget's hashing (its Worker pool reading a file from disk and making the tree digest) with
// 1 and with 2 Workers: one page per Worker count (each pool warm after an untimed pass), runs
// alternating between them. `file` is {path, size}; returns MiB/s medians, their ratio (median of
// adjacent pairs) and the digest both agreed on.
export async function widgetHashBench(browser, server, { file, runs, chunkSize = 4 * MiB, workerCounts = [1, 2] }) {
  const context = await browser.newContext();
  try {
    const origin = new URL(server.url).origin;
    const pages = {};
    for (const n of workerCounts) {
      const page = pages[n] = await context.newPage();
      await page.goto(`${origin}/tests/bench/pages/hash.html`);
      await page.setInputFiles('#picker', file.path);
      await page.evaluate(([w, c]) => window.hashWidget(w, c), [n, chunkSize]);
    }
    const rate = (ms) => file.size / MiB / (ms / 1000);
    const samples = Object.fromEntries(workerCounts.map((n) => [n, []]));
    const ratios = [];
    const digests = new Set();
    for (let i = 0; i < runs; ++i) {
      const order = i % 2 ? [...workerCounts].reverse() : workerCounts;
      const pair = {};
      for (const n of order) {
        const r = await pages[n].evaluate(([w, c]) => window.hashWidget(w, c), [n, chunkSize]);
        samples[n].push(pair[n] = rate(r.ms));
        digests.add(r.digest);
      }
      ratios.push(pair[workerCounts.at(-1)] / pair[workerCounts[0]]);
    }
    if (digests.size !== 1) throw new Error(`the Worker counts disagree on the digest: ${[...digests]}`);
    return { rates: Object.fromEntries(workerCounts.map((n) => [n, median(samples[n])])), ratio: median(ratios),
      samples, digest: [...digests][0] };
  } finally {
    await context.close();
  }
}

// ---- (4b) end-to-end uploads ----------------------------------------------------------------------

async function postJson(url, headers = {}) {
  const response = await fetch(url, { method: 'POST', headers });
  return { status: response.status, body: await response.json() };
}

// Claims a finished upload on our server (as the anonymous client whose browser `context` uploaded
// it: its scope cookie) and deletes the stored file after checking it against the source's digest;
// frees the identifier for the next run.
async function claimAndCheck(server, context, token, digest, size) {
  const cookies = await context.cookies(server.url);
  const claimed = await postJson(new URL(`test/claim?token=${token}`, server.url),
    { Cookie: cookies.map((c) => `${c.name}=${c.value}`).join('; ') });
  if (claimed.status !== 200) throw new Error(`claim failed: ${JSON.stringify(claimed.body)}`);
  if (claimed.body.size !== size || claimed.body.fileDigest !== digest) throw new Error(`stored file differs: ${JSON.stringify(claimed.body)}`);
  return claimed.body.path;
}

// Uploads `file` ({path, size, digest}) with one client in a fresh context; returns
// {seconds, longTaskTotal, longTaskMax, longTaskCount, storedPath|tusUrl}.
// client: 'widget' | 'resumable' | 'tus'.
export async function uploadInBrowser(browser, { client, server, tusServer, file, chunkSize, parallel }) {
  const context = await openContext(browser);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(String(error)));
  try {
    await page.goto(`${server.url.replace(/\/$/, '')}/tests/bench/pages/e2e-${client === 'widget-hash' ? 'widget' : client}.html`);
    if (client === 'widget-hash') {
      const outcome = page.evaluate((o) => window.hashOnly(o), { chunkSize });
      const cpu0 = descendantsCpuSeconds(process.pid);
      await page.setInputFiles('#picker', file.path);
      const result = await outcome;
      const machineCpu = descendantsCpuSeconds(process.pid) - cpu0;
      if (result.event !== 'success' || result.fileDigest !== file.digest) throw new Error(`widget hashFile: ${JSON.stringify(result)}`);
      const longTasks = await page.evaluate(() => window.longTasks);
      return { seconds: result.ms / 1000, machineCpu, longTaskTotal: longTasks.reduce((a, b) => a + b, 0),
        longTaskMax: longTasks.length ? Math.max(...longTasks) : 0, longTaskCount: longTasks.length };
    }
    const options = client === 'widget' ? { chunkSize, simultaneousUploads: parallel }
      : client === 'resumable' ? { chunkSize, simultaneousUploads: parallel, method: 'octet', testChunks: false }
        : { endpoint: new URL('files', tusServer.url).href, chunkSize };
    const outcome = page.evaluate((o) => window.startUpload(o), options);
    const cpu0 = descendantsCpuSeconds(process.pid);
    await page.setInputFiles('#picker', file.path);
    const result = await outcome;
    const machineCpu = descendantsCpuSeconds(process.pid) - cpu0;
    if (result.event !== 'success') throw new Error(`${client} upload failed: ${result.message}; page errors: ${errors}`);
    const longTasks = await page.evaluate(() => window.longTasks);
    const measured = {
      seconds: result.ms / 1000,
      machineCpu,
      longTaskTotal: longTasks.reduce((a, b) => a + b, 0),
      longTaskMax: longTasks.length ? Math.max(...longTasks) : 0,
      longTaskCount: longTasks.length,
    };
    if (client === 'tus') return { ...measured, tusUrl: result.url };
    const final = client === 'widget' ? result.result : JSON.parse(result.message);
    if (final.status !== 'complete' || final.fileDigest !== file.digest) throw new Error(`${client}: unexpected final result ${JSON.stringify(final)}`);
    return { ...measured, storedPath: await claimAndCheck(server, context, final.token, file.digest, file.size) };
  } finally {
    await context.close();
  }
}

// ---- (5) resuming after a cut --------------------------------------------------------------------

// Every request a page makes to our endpoint: {method, path, chunk, size, at}.
function recordRequests(page) {
  const log = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith('/upload') || url.pathname.startsWith('/upload/widget')) return;
    const chunk = Number(url.searchParams.get('resumableChunkNumber') ?? NaN);
    const size = Number(url.searchParams.get('resumableCurrentChunkSize') ?? 0);
    log.push({ method: request.method(), path: url.pathname, chunk, size: request.method() === 'POST' ? size : 0, at: performance.now() });
  });
  return log;
}

// Cuts an upload once half its chunks are acknowledged (the page and its connections close), then a
// fresh page uploads the same file. Returns the second page's requests and re-sent bytes: body bytes of
// chunks that the first page had already begun sending (stored or in flight at the cut).
// client: 'widget' (its status request) or 'resumable' (testChunks: a test GET before each chunk).
export async function resumeAfterCut(browser, { client, server, file, chunkSize, parallel }) {
  const options = client === 'widget' ? { chunkSize, simultaneousUploads: parallel }
    : { chunkSize, simultaneousUploads: parallel, method: 'octet', testChunks: true };
  const chunkCount = Math.max(1, Math.floor(file.size / chunkSize));
  const half = Math.ceil(chunkCount / 2);
  const base = server.url.replace(/\/$/, '');

  // Both pages are one browser (one context): an anonymous client is its cookie jar.
  const context = await openContext(browser);
  const first = await context.newPage();
  const firstLog = recordRequests(first);
  // The cut comes when half the chunks are acknowledged (or as the first page issues its next chunk
  // POST after that): requests still sending lose their connection mid-body.
  let acknowledged = 0;
  let armTimer;
  const cutSignal = new Promise((resolve) => {
    first.on('response', (response) => {
      const url = new URL(response.url());
      if (url.pathname === '/upload' && response.request().method() === 'POST' && response.status() === 200 && ++acknowledged === half) {
        // With few chunks the rest may already be on the wire and no new POST comes: cut at once
        // (a short wait let small uploads finish before the cut).
        armTimer = setTimeout(resolve, 0);
      }
    });
    first.on('request', (request) => {
      if (acknowledged >= half && request.method() === 'POST' && new URL(request.url()).pathname === '/upload') resolve();
    });
  });
  await first.goto(`${base}/tests/bench/pages/e2e-${client}.html`);
  const firstOutcome = first.evaluate((o) => window.startUpload(o), options).catch(() => ({ event: 'closed' }));
  await first.setInputFiles('#picker', file.path);
  let timer;
  const ended = await Promise.race([cutSignal.then(() => false), firstOutcome.then(() => true),
    new Promise((resolve) => { timer = setTimeout(() => resolve('timeout'), 600000); })]);
  clearTimeout(timer);
  clearTimeout(armTimer);
  if (ended !== false) throw new Error(`${client}: the first attempt ended before half the chunks were in (${ended})`);
  await first.close(); // the cut: every open connection of the page goes away
  const begunBeforeCut = new Set(firstLog.filter((r) => r.method === 'POST').map((r) => r.chunk));
  const acknowledgedAtCut = acknowledged;
  const cutAt = performance.now();

  const second = await context.newPage();
  const log = recordRequests(second);
  try {
    await second.goto(`${base}/tests/bench/pages/e2e-${client}.html`);
    const outcome = second.evaluate((o) => window.startUpload(o), options);
    await second.setInputFiles('#picker', file.path);
    const result = await outcome;
    if (result.event !== 'success') throw new Error(`${client} resume failed: ${result.message}`);
    const seconds = (performance.now() - cutAt) / 1000;
    const final = client === 'widget' ? result.result : JSON.parse(result.message);
    if (final.fileDigest !== file.digest) throw new Error(`${client}: resumed upload has the wrong digest`);
    const storedPath = await claimAndCheck(server, context, final.token, file.digest, file.size);
    const posts = log.filter((r) => r.method === 'POST');
    const resent = posts.filter((r) => begunBeforeCut.has(r.chunk)).reduce((sum, r) => sum + r.size, 0);
    return {
      chunkCount, acknowledgedAtCut, begunBeforeCut: begunBeforeCut.size,
      requests: log.length, probeRequests: log.length - posts.length, chunkPosts: posts.length,
      sentBytes: posts.reduce((sum, r) => sum + r.size, 0), resentBytes: resent, seconds, storedPath,
    };
  } finally {
    await context.close();
  }
}
