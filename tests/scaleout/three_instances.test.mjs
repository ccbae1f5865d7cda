// Three resumable_test_server instances behind nginx (round-robin, no stickiness), over one
// PostgreSQL registry (tests/support/postgres_fixture.sh) and one store: a shared --data-dir (the
// filesystem store), or with RESUMABLE_SCALEOUT_STORE=s3 the radosgw of tests/support/ceph_fixture.sh.
// Issue 17, item 3: any chunk of any upload on any instance, one release, one token, the same bytes.
// Each scenario gets its own database, data directory, instances and nginx. The widget runs in
// Chromium and talks to nginx only; the race and collection scenarios talk to the instances directly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { b2sum256, launchBrowser, writeRandomFile } from '../browser/harness.mjs';
import {
  MiB, chunkSpan, hashFile, http, readFileSync, scratchDir, sleep, startServer,
} from '../reliability/support.mjs';
import { balancerConfig, startNginx } from '../support/nginx.mjs';
import { deleteObject, getObject, keysUnder, openMultipartUploads } from './s3_support.mjs';

const run = promisify(execFile);
const USER = 'alice';
const conninfo = process.env.RESUMABLE_PG_CONNINFO;
if (!conninfo) throw new Error('run through tests/support/postgres_fixture.sh (RESUMABLE_PG_CONNINFO)');
const STORE = process.env.RESUMABLE_SCALEOUT_STORE ?? 'filesystem';
if (STORE !== 'filesystem' && STORE !== 's3') throw new Error(`RESUMABLE_SCALEOUT_STORE: ${STORE}`);
if (STORE === 's3' && !process.env.RESUMABLE_S3_ENDPOINT) throw new Error('the S3 variant runs inside tests/support/ceph_fixture.sh');

// psql from the fixture's PostgreSQL: -A -t for bare values.
const psql = (database, sql) =>
  execFileSync(join(process.env.RESUMABLE_PG_BINDIR ?? '/usr/bin', 'psql'), [database, '-X', '-A', '-t', '-q', '-c', sql],
    { encoding: 'utf8' }).trim();

let scenario = 0;
// A fresh database on the fixture's server (the registry creates its tables on first use).
function freshDatabase() {
  const name = `three_${process.pid}_${++scenario}`;
  psql(conninfo, `CREATE DATABASE ${name}`);
  const url = new URL(conninfo);
  url.pathname = `/${name}`;
  return url.href;
}

// The store's options for every instance: all three share one data directory, and with S3 one
// bucket prefix, and their records in `registry`.
function storeArgs(registry, prefix) {
  const args = ['--registry', registry, '--durable', '0'];
  if (STORE === 's3') {
    args.push('--s3-endpoint', process.env.RESUMABLE_S3_ENDPOINT, '--s3-bucket', process.env.RESUMABLE_S3_BUCKET,
      '--s3-region', process.env.RESUMABLE_S3_REGION, '--s3-prefix', prefix);
  }
  return args;
}

// Three instances over one registry and store, and nginx before them.
async function startCluster({ args = [] } = {}) {
  const dir = scratchDir('three');
  const registry = freshDatabase();
  const prefix = `three-${process.pid}-${scenario}/`;
  const dataDir = join(dir, 'data');
  const instances = await Promise.all([0, 1, 2].map(() => startServer({ dataDir, args: [...storeArgs(registry, prefix), ...args] })));
  const nginx = await startNginx(join(dir, 'nginx'), balancerConfig(instances.map((s) => s.port)));
  return {
    dir, dataDir, registry, prefix, instances, nginx,
    url: nginx.url.replace(/\/$/, ''),
    async stop() {
      await nginx.stop();
      for (const s of instances) await s.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const asUser = { 'X-Test-User': USER };
const chunkPosts = async (instance) => (await http(`${instance.url}/test/stats`)).json.chunkPosts;
const statusOn = (instance, identifier) =>
  http(`${instance.url}/upload/status?identifier=${encodeURIComponent(identifier)}`, { headers: asUser });
const claimOn = (instance, token) =>
  http(`${instance.url}/test/claim?token=${encodeURIComponent(token)}`, { method: 'POST', headers: asUser });

// The released file's bytes, by b2sum: the file itself, or the object fetched with curl's own SigV4.
function releasedDigest(cluster, location) {
  if (STORE === 'filesystem') return b2sum256(location);
  const copy = join(cluster.dir, 'object.bin');
  getObject(location, copy);
  const digest = b2sum256(copy);
  rmSync(copy);
  return digest;
}

// What must hold after an upload finished, whichever instances took its chunks: every reply that
// said "complete" and status on every live instance name one token; the registry holds one
// released upload; the store one released file; the claim works once (on one instance), a second
// claim (on another) fails; the released bytes are the source's.
async function assertReleasedOnce(cluster, { identifier, source, replyTokens, live = cluster.instances }) {
  const tokens = new Set(replyTokens);
  for (const instance of live) {
    const status = await statusOn(instance, identifier);
    assert.equal(status.json?.status, 'complete', `status on ${instance.url}: ${status.text}`);
    tokens.add(status.json.token);
  }
  assert.equal(tokens.size, 1, `one release, one token: ${[...tokens].join(', ')}`);
  const [token] = tokens;
  assert.equal(psql(cluster.registry, 'SELECT count(*) FROM resumable_uploads WHERE token IS NOT NULL'), '1',
    'the registry holds one released upload');
  assert.equal(STORE === 'filesystem' ? readdirSync(join(cluster.dataDir, 'files')).length : keysUnder(`${cluster.prefix}files/`),
    1, 'one released file');
  const claimed = await claimOn(live[0], token);
  assert.equal(claimed.status, 200, claimed.text);
  const again = await claimOn(live[live.length - 1], token);
  assert.equal(again.status, 404, `a second claim fails: ${again.text}`);
  assert.equal(releasedDigest(cluster, claimed.json.path), b2sum256(source), 'the released file is byte-identical');
  if (STORE === 's3') assert.equal(openMultipartUploads(cluster.prefix), 0, 'no multipart upload left open');
  // The application takes the claimed file away (the next upload's count starts from none).
  if (STORE === 'filesystem') rmSync(claimed.json.path);
  else deleteObject(claimed.json.path);
  return token;
}

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

// The widget uploads `path` through nginx. onStored(n) is called (awaited by nothing) at the n-th
// chunk the widget saw stored. Resolves with the widget's result, the identifier and the token of
// every reply that said "complete".
async function widgetUpload(cluster, path, { chunkSize, onStored = () => {} }) {
  const context = await browser.newContext({ extraHTTPHeaders: asUser });
  try {
    const page = await context.newPage();
    const replies = [];
    let identifier = null;
    page.on('response', (response) => {
      const url = new URL(response.url());
      if (url.pathname !== '/upload' || response.request().method() !== 'POST') return;
      identifier ??= url.searchParams.get('resumableIdentifier');
      replies.push(response.text().then((text) => { try { return JSON.parse(text); } catch { return { httpStatus: response.status() }; } },
        () => ({ httpStatus: response.status() })));
    });
    await page.exposeFunction('chunkStored', (n) => { onStored(n); });
    await page.goto(`${cluster.url}/tests/browser/pages/widget-api.html`);
    await page.setInputFiles('#picker', path);
    await page.evaluate((options) => {
      const uploader = window.uploadPicked(options);
      let stored = 0;
      uploader.on('chunk-stored', () => { window.chunkStored(++stored); });
    }, { chunkSize, simultaneousUploads: 3, retryDelay: 200, maxRetryDelay: 2000, maxRetries: 40 });
    await page.waitForFunction(() => window.eventsOf('file-success').length > 0 || window.eventsOf('file-error').length > 0,
      null, { timeout: 150000, polling: 200 });
    assert.deepEqual(await page.evaluate(() => window.eventsOf('file-error')), [], 'no file failed');
    const result = await page.evaluate(() => window.eventsOf('file-success')[0].result);
    const bodies = await Promise.all(replies);
    const replyTokens = bodies.filter((b) => b?.status === 'complete').map((b) => b.token);
    return { result, identifier, replyTokens, replies: bodies };
  } finally {
    await context.close();
  }
}

test('the widget uploads 256 MiB through nginx: every instance takes chunks, one release, the same bytes', async () => {
  const cluster = await startCluster();
  try {
    const source = join(cluster.dir, 'big.bin');
    const size = 256 * MiB + 12345;
    await writeRandomFile(source, size);
    const started = Date.now();
    const { result, identifier, replyTokens } = await widgetUpload(cluster, source, { chunkSize: 8 * MiB });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(result.size, size);
    const posts = await Promise.all(cluster.instances.map(chunkPosts));
    console.log(`256 MiB in ${result.chunkCount} chunks in ${seconds.toFixed(1)} s; chunk requests per instance: ${posts.join(', ')}`);
    for (const count of posts) assert.ok(count > 0, `every instance served chunks: ${posts}`);
    assert.ok(posts.reduce((a, b) => a + b, 0) >= result.chunkCount, `at least one request per chunk: ${posts}`);
    const token = await assertReleasedOnce(cluster, { identifier, source, replyTokens });
    assert.equal(token, result.token);
  } finally { await cluster.stop(); }
});

// True when a connection to 127.0.0.1:port is established with bytes the listening process has
// not read (/proc/net/tcp: state 01, rx_queue > 0): a request waiting in a frozen instance.
function requestWaitingAt(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).some((line) => {
    const [, local, , state, queues] = line.trim().split(/\s+/);
    if (!local || state !== '01' || local.split(':')[1] !== hexPort) return false;
    return parseInt(queues.split(':')[1], 16) > 0;
  });
}

test('an instance SIGKILLed mid-upload: the upload completes through the other two', async () => {
  const cluster = await startCluster();
  try {
    const source = join(cluster.dir, 'killed.bin');
    await writeRandomFile(source, 96 * MiB + 999);
    const victim = cluster.instances[1];
    let killed = null;
    let victimPosts = 0;
    let held = false;
    const { result, identifier, replyTokens, replies } = await widgetUpload(cluster, source, {
      chunkSize: 8 * MiB,
      onStored: (n) => {
        if (n !== 4 || killed) return;
        // Frozen first (SIGSTOP): the next request nginx routes to it is then left hanging inside
        // it (the kernel accepts the connection and holds its bytes; nothing reads or answers).
        // Killed once such a request is there, so the kill cuts a request for certain; killed as
        // soon as a request arrived, it could answer an 8 MiB chunk before the kill on a quiet
        // machine (the test failed 2 of 3 runs that way).
        killed = (async () => {
          victimPosts = await chunkPosts(victim);
          victim.child.kill('SIGSTOP');
          for (const deadline = Date.now() + 20000; Date.now() < deadline && !requestWaitingAt(victim.port);) {
            await sleep(5);
          }
          held = requestWaitingAt(victim.port);
          await victim.kill();
        })();
      },
    });
    await killed;
    assert.ok(killed, 'the instance was killed mid-upload');
    assert.equal(victim.alive(), false);
    assert.ok(victimPosts >= 1, 'the killed instance had served chunks');
    assert.ok(held, 'a request was waiting inside the frozen instance when it was killed');
    const survivors = cluster.instances.filter((s) => s !== victim);
    const posts = await Promise.all(survivors.map(chunkPosts));
    const failed = replies.filter((r) => r.httpStatus !== undefined || r.status === 'error').length;
    console.log(`killed after ${victimPosts} chunk requests on it; the others took ${posts.join(', ')} of ${result.chunkCount} chunks; ` +
      `${failed} of ${replies.length} chunk replies the widget got were failures it retried`);
    // nginx noticed: its error log names the killed instance (connection refused or cut).
    const log = readFileSync(join(cluster.dir, 'nginx', 'logs', 'error.log'), 'utf8');
    assert.match(log, new RegExp(`upstream: "http://127\\.0\\.0\\.1:${victim.port}/`), 'nginx saw the instance fail');
    assert.ok(failed > 0, 'the widget saw the request the kill cut, and retried it');
    assert.ok(victimPosts + posts.reduce((a, b) => a + b, 0) >= result.chunkCount);
    assert.equal(await assertReleasedOnce(cluster, { identifier, source, replyTokens, live: survivors }), result.token);
  } finally { await cluster.stop(); }
});

// Chunk `number`'s place in the file and its request's query, as the widget sends it
// (resumable.js parameters, chunk and file digests).
function chunkQuery({ hashes, chunkSize, identifier, number }) {
  const span = chunkSpan(hashes.size, chunkSize, hashes.count, number);
  const query = new URLSearchParams({
    resumableChunkNumber: number, resumableChunkSize: chunkSize, resumableCurrentChunkSize: span.size,
    resumableTotalSize: hashes.size, resumableTotalChunks: hashes.count, resumableIdentifier: identifier,
    resumableFilename: `${identifier}.bin`, resumableRelativePath: `${identifier}.bin`,
    chunkDigest: hashes.chunks[number - 1], fileDigest: hashes.file,
  });
  return { span, query };
}

// One chunk straight to one instance, its raw body read from the file.
function chunkRequest(instance, { source, ...chunk }) {
  const { span, query } = chunkQuery(chunk);
  return http(`${instance.url}/upload?${query}`, {
    method: 'POST', headers: { ...asUser, 'Content-Type': 'application/octet-stream' },
    body: { path: source, start: span.offset, size: span.size },
  });
}

// A chunk streamed in ten writes, `ms` milliseconds apart in all; with `gate`, the last write
// waits for it (so that several bodies can end at the same moment). Resolves {status, json, text}.
function streamChunk(instance, { source, ms = 0, gate, ...chunk }) {
  const { span, query } = chunkQuery(chunk);
  const bytes = readFileSync(source).subarray(span.offset, span.offset + span.size);
  return new Promise((resolve, reject) => {
    const req = request(`${instance.url}/upload?${query}`, {
      method: 'POST', agent: false,
      headers: { ...asUser, 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { try { resolve({ status: res.statusCode, json: JSON.parse(text), text }); } catch { resolve({ status: res.statusCode, text }); } });
    });
    req.on('error', reject);
    const pieces = 10;
    const step = Math.ceil(bytes.length / pieces);
    let sent = 0;
    const next = async () => {
      if (sent + step >= bytes.length && gate) await gate;
      req.write(bytes.subarray(sent, sent + step));
      sent += step;
      if (sent >= bytes.length) req.end();
      else setTimeout(next, ms / pieces);
    };
    next();
  });
}

test('the last chunks sent at once to three instances: one release, every reply the same token', async () => {
  const cluster = await startCluster();
  try {
    const chunkSize = MiB;
    const completeReplies = [];
    for (let round = 1; round <= 8; round++) {
      const source = join(cluster.dir, `race-${round}.bin`);
      await writeRandomFile(source, 5 * MiB + round * 1000);
      const hashes = await hashFile(source, chunkSize);
      const identifier = `race-${round}`;
      const first = await Promise.all([1, 2].map((number) =>
        chunkRequest(cluster.instances[number], { source, hashes, chunkSize, identifier, number })));
      for (const reply of first) assert.equal(reply.json?.status, 'chunk_stored', reply.text);
      // The three bodies arrive up to their last bytes, which are then sent at the same moment.
      const gate = sleep(300);
      const last = await Promise.all([0, 1, 2].map((i) =>
        streamChunk(cluster.instances[i], { source, hashes, chunkSize, identifier, number: 3 + i, gate })));
      for (const reply of last) assert.equal(reply.status, 200, reply.text);
      const replyTokens = last.filter((r) => r.json.status === 'complete').map((r) => r.json.token);
      assert.ok(replyTokens.length >= 1, 'the last chunk stored completes the upload');
      completeReplies.push(replyTokens.length);
      await assertReleasedOnce(cluster, { identifier, source, replyTokens });
      rmSync(source);
    }
    console.log(`racing replies that said complete, per round (of 3): ${completeReplies.join(', ')}`);
  } finally { await cluster.stop(); }
});

test('collection on one instance never removes an upload another instance is receiving', async () => {
  // Uploads idle for 2 s are stale. The upload is opened on instance B (its own view of it then
  // ages), and A then receives its chunks slowly, one after another, for more than four times 2 s;
  // B collects every 250 ms all the while. Each chunk's body takes 2.6 s, longer than the stale
  // time itself: the receiving instance records the body's activity while it arrives
  // (upload_registry.h, record_activity). An upload abandoned on A is collected by B (the
  // collection is live).
  // 64 KiB I/O buffers: activity is recorded between buffers, and a 1 MiB buffer filled over 2.6 s
  // would itself outlast the stale time (docs/scale-out.md, limits).
  const cluster = await startCluster({ args: ['--stale-after-s', '2', '--io-buffer-bytes', '65536'] });
  try {
    const [a, b] = cluster.instances;
    const chunkSize = MiB;
    const source = join(cluster.dir, 'slow.bin');
    await writeRandomFile(source, 5 * MiB);
    const hashes = await hashFile(source, chunkSize);
    const abandoned = join(cluster.dir, 'abandoned.bin');
    await writeRandomFile(abandoned, 4 * MiB);
    const abandonedHashes = await hashFile(abandoned, chunkSize);
    const first = await chunkRequest(b, { source, hashes, chunkSize, identifier: 'slow', number: 1 });
    assert.equal(first.json?.status, 'chunk_stored', first.text);
    const left = await chunkRequest(a, { source: abandoned, hashes: abandonedHashes, chunkSize, identifier: 'abandoned', number: 1 });
    assert.equal(left.json?.status, 'chunk_stored', left.text);

    let receiving = true;
    const reports = [];
    const collector = (async () => {
      while (receiving) {
        const report = await http(`${b.url}/test/collect`, { method: 'POST' });
        assert.equal(report.status, 200, report.text);
        reports.push(report.json);
        await sleep(250);
      }
    })();
    const started = Date.now();
    let last;
    try {
      for (let number = 2; number <= hashes.count; number++) {
        last = await streamChunk(a, { source, hashes, chunkSize, identifier: 'slow', number, ms: 2600 });
        assert.equal(last.status, 200, `chunk ${number}: ${last.text}`);
      }
    } finally {
      receiving = false;
      await collector;
    }
    const seconds = (Date.now() - started) / 1000;
    const removed = reports.reduce((n, r) => n + r.staleRemoved, 0);
    console.log(`received for ${seconds.toFixed(1)} s while ${reports.length} collections ran on another instance; they removed ${removed}`);
    assert.ok(seconds > 4 * 2, 'the upload lasted well past the stale time');
    assert.equal(last.json.status, 'complete', last.text);
    assert.equal(removed, 1, 'only the abandoned upload was collected');
    assert.equal((await statusOn(a, 'abandoned')).status, 404, 'the abandoned upload is gone');
    await assertReleasedOnce(cluster, { identifier: 'slow', source, replyTokens: [last.json.token] });
  } finally { await cluster.stop(); }
});

// The S3 variant only: a refused or failed S3 request leaves the upload resumable.
if (STORE === 's3') test('radosgw stopped for a moment mid-upload: the upload stays resumable and completes', async () => {
  const cluster = await startCluster({ args: ['--s3-max-attempts', '3'] });
  try {
    const source = join(cluster.dir, 'outage.bin');
    await writeRandomFile(source, 96 * MiB);
    const fixture = process.env.RESUMABLE_CEPH_FIXTURE;
    let outage = null;
    const { result, identifier, replyTokens, replies } = await widgetUpload(cluster, source, {
      chunkSize: 8 * MiB,
      onStored: (n) => {
        if (n !== 2 || outage) return;
        outage = (async () => {
          await run('bash', [fixture, 'rgw-stop']);
          await sleep(3000);
          await run('bash', [fixture, 'rgw-start']);
        })();
      },
    });
    await outage;
    assert.ok(outage, 'radosgw was stopped mid-upload');
    const busy = replies.filter((r) => r?.error === 'server_busy' && r.retryable === true).length;
    console.log(`outage: ${busy} replies server_busy, then complete`);
    assert.ok(busy > 0, 'the widget saw the outage as a retryable server_busy');
    assert.equal(await assertReleasedOnce(cluster, { identifier, source, replyTokens }), result.token);
  } finally { await cluster.stop(); }
});
