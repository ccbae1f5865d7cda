// Abuse and limits: oversized chunks and files, out-of-range and malformed numbers, totals changing
// mid-upload, too many chunks, too many unfinished uploads per principal, slow senders (slowloris on
// the headers and on the body), huge headers and query strings, oversized multipart fields. Each is
// answered with a clear status and, where the endpoint sees the request, a stable error code; a
// "steady" client keeps uploading small files the whole time, and its latency is measured against a
// baseline taken before the abuse started.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import {
  KiB, MiB, claim, http, listTree, reportFigures, rmSync, scratchDir, sleep, startServer, uploadFile, writeRandomFile,
} from './support.mjs';

const TIMEOUT_MS = 2000;
const BODY_GRACE_MS = 1000;
const BODY_MIN_RATE = 256 * 1024;  // bytes per second
let dir, server;

before(async () => {
  dir = scratchDir('abuse');
  server = await startServer({
    dataDir: join(dir, 'data'),
    args: ['--durable', '0', '--threads', '24', '--request-timeout-ms', String(TIMEOUT_MS), '--max-file-size', String(64 * MiB),
      '--max-chunk-size', String(MiB), '--max-chunks', '64', '--max-uploads-per-principal', '4', '--max-request-size', '16384',
      '--body-grace-ms', String(BODY_GRACE_MS), '--body-min-rate', String(BODY_MIN_RATE)],
  });
});

after(async () => {
  const code = await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'the server exits cleanly on SIGTERM');
});

const headers = (user = 'mallory') => ({ 'X-Test-User': user });
const params = (o) => new URLSearchParams({
  resumableChunkNumber: 1, resumableChunkSize: 65536, resumableCurrentChunkSize: 65536, resumableTotalSize: 65536 * 2,
  resumableTotalChunks: 2, resumableIdentifier: 'abuse', resumableFilename: 'a.bin', ...o,
});
const post = (o, body = Buffer.alloc(Number(o.resumableCurrentChunkSize ?? 65536)), user) =>
  http(`${server.url}/upload?${params(o)}`, { method: 'POST', headers: { ...headers(user), 'Content-Type': 'application/octet-stream' }, body });

// Latencies (ms) of a client that keeps uploading 256 KiB files in 64 KiB chunks and claiming them.
function steadyClient(label) {
  const path = join(dir, `steady-${label}.bin`);
  writeRandomFile(path, 256 * KiB);
  const latencies = [];
  let failures = 0;
  let stop = false;
  let n = 0;
  const run = (async () => {
    while (!stop && n < 2000) {
      const t0 = performance.now();
      try {
        const r = await uploadFile({ base: () => server.url, path, identifier: `steady-${label}-${n++}`, user: 'steady', chunkSize: 64 * KiB, parallel: 1, maxAttemptsPerChunk: 3, idleTimeout: 10000 });
        const c = await claim(server.url, r.final.token, 'steady');
        rmSync(c.json.path);
        latencies.push((performance.now() - t0) / (r.stats.requests + r.stats.statusRequests + 1));
      } catch {
        failures++;
      }
    }
  })();
  return { async stop() { stop = true; await run; return { latencies, failures, uploads: n }; } };
}

const pct = (values, p) => {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return +sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(1);
};

// Opens a raw connection, sends `head`, then drips `drip` one byte every `every` ms; resolves with how
// long the server took to close it (or null if it still held the connection at `limit` ms).
function slowSender(head, drip, every, limit) {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    const t0 = Date.now();
    let reply = '';
    let i = 0;
    let timer;
    const done = (value) => { clearInterval(timer); clearTimeout(cap); socket.destroy(); resolve(value); };
    const cap = setTimeout(() => done({ closedAfterMs: null, reply }), limit);
    socket.on('connect', () => {
      socket.write(head);
      timer = setInterval(() => { if (i < drip.length) socket.write(drip[i++]); }, every);
    });
    socket.on('data', (d) => { reply += d; });
    socket.on('close', () => done({ closedAfterMs: Date.now() - t0, reply: reply.split('\r\n')[0], body: reply.slice(reply.indexOf('\r\n\r\n') + 4) }));
    socket.on('error', () => {});
  });
}

test('abusive requests get clear statuses and stable codes while other clients keep being served', { timeout: 600000 }, async () => {
  // Baseline: the steady client alone.
  const baseline = steadyClient('baseline');
  await sleep(3000);
  const base = await baseline.stop();
  assert.equal(base.failures, 0);

  const steady = steadyClient('abuse');
  const cases = [];
  const expect = async (name, promise, status, code) => {
    const r = await promise;
    cases.push({ name, status: r.status ?? r.error, code: r.json?.error ?? null });
    assert.equal(r.status, status, `${name}: ${r.status} ${r.error ?? r.text}`);
    if (Array.isArray(code)) assert.ok(code.includes(r.json?.error), `${name}: ${r.text}`);
    else if (code) assert.equal(r.json?.error, code, `${name}: ${r.text}`);
  };

  // Sizes and counts.
  await expect('chunk size above the mount maximum', post({ resumableChunkSize: 2 * MiB, resumableCurrentChunkSize: 2 * MiB, resumableTotalSize: 4 * MiB }, Buffer.alloc(16)), 400, 'chunk_size_not_allowed');
  await expect('file above the maximum file size', post({ resumableChunkSize: MiB, resumableCurrentChunkSize: MiB, resumableTotalSize: 65 * MiB, resumableTotalChunks: 65 }, Buffer.alloc(16)), 413, 'file_too_large');
  await expect('file of 2^64-1 bytes', post({ resumableTotalSize: '18446744073709551615', resumableTotalChunks: '281474976710655' }, Buffer.alloc(16)), 413, 'file_too_large');
  await expect('too many chunks', post({ resumableChunkSize: 1, resumableCurrentChunkSize: 1, resumableTotalSize: 100, resumableTotalChunks: 100 }, Buffer.alloc(1)), 413, 'too_many_chunks');
  await expect('body longer than the chunk', post({}, Buffer.alloc(65537)), 400, 'invalid_body');
  await expect('Content-Length shorter than the chunk', post({}, Buffer.alloc(100)), 400, 'invalid_body');

  // Numbers out of range or malformed.
  for (const [value, code] of [['0', 'invalid_geometry'], ['3', 'invalid_geometry'], ['18446744073709551615', 'invalid_geometry'],
    ['18446744073709551616', 'invalid_parameter'], ['99999999999999999999999', 'invalid_parameter'], ['-1', 'invalid_parameter'],
    ['+1', 'invalid_parameter'], [' 1', 'invalid_parameter'], ['1 ', 'invalid_parameter'], ['1e3', 'invalid_parameter'],
    ['0x1', 'invalid_parameter'], ['', 'invalid_parameter'], ['1.0', 'invalid_parameter'], ['１', 'invalid_parameter']]) {
    await expect(`chunk number ${JSON.stringify(value)}`, post({ resumableChunkNumber: value }, Buffer.alloc(16)), 400, code);
  }
  await expect('current chunk size 2^64-1', post({ resumableCurrentChunkSize: '18446744073709551615' }, Buffer.alloc(16)), 400, 'invalid_geometry');
  await expect('chunk count 0', post({ resumableTotalChunks: 0 }, Buffer.alloc(16)), 400, 'invalid_geometry');
  await expect('missing identifier', http(`${server.url}/upload?${(() => { const p = params({}); p.delete('resumableIdentifier'); return p; })()}`, { method: 'POST', headers: headers(), body: Buffer.alloc(65536) }), 400, 'invalid_parameter');
  await expect('malformed chunk digest', post({ chunkDigest: 'zz'.repeat(32) }), 400, 'invalid_parameter');

  // Totals changing mid-upload.
  const pinned = { resumableIdentifier: 'changing', resumableTotalSize: 65536 * 3 + 10, resumableTotalChunks: 3 };
  await expect('first chunk of an upload', post({ ...pinned }), 200);
  await expect('total size changes', post({ ...pinned, resumableChunkNumber: 2, resumableTotalSize: 65536 * 4, resumableTotalChunks: 4 }), 409, 'upload_conflict');
  await expect('chunk count changes (same size)', post({ ...pinned, resumableChunkNumber: 2, resumableTotalChunks: 4 }), 409, 'upload_conflict');
  await expect('chunk size changes', post({ ...pinned, resumableChunkNumber: 2, resumableChunkSize: 32768, resumableCurrentChunkSize: 32768, resumableTotalChunks: 6 }, Buffer.alloc(32768)), 409, 'upload_conflict');
  await expect('file name changes', post({ ...pinned, resumableChunkNumber: 2, resumableFilename: 'b.bin' }), 409, 'upload_conflict');
  await expect('a file digest declared late', post({ ...pinned, resumableChunkNumber: 2, fileDigest: 'ab'.repeat(32) }), 200);
  await expect('a second, different file digest', post({ ...pinned, resumableChunkNumber: 2, fileDigest: 'cd'.repeat(32) }), 409, 'upload_conflict');

  // Too many unfinished uploads for one principal (limit 4; 'changing' is one of them).
  for (let i = 0; i < 3; i++) await expect(`unfinished upload ${i + 2}`, post({ resumableIdentifier: `many-${i}` }), 200);
  await expect('one unfinished upload too many', post({ resumableIdentifier: 'many-3' }), 429, 'too_many_uploads');
  await expect('another principal is not limited by it', post({ resumableIdentifier: 'many-3' }, undefined, 'trent'), 200);
  await expect('cancel one', http(`${server.url}/upload?identifier=many-0`, { method: 'DELETE', headers: headers() }), 204);
  await expect('then the next upload may start', post({ resumableIdentifier: 'many-3' }), 200);

  // Multipart abuse: too many fields, an oversized field.
  const multipart = (fields) => {
    const boundary = '----rsmAbuseBoundary7d1';
    const body = fields.map(([n, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n${v}\r\n`).join('') +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="b"\r\nContent-Type: application/octet-stream\r\n\r\n${'x'.repeat(16)}\r\n--${boundary}--\r\n`;
    return http(`${server.url}/upload`, { method: 'POST', headers: { ...headers(), 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body });
  };
  // (CivetWeb stops reporting fields before the endpoint's own limit of 32 is reached: invalid_body.)
  await expect('multipart with 100 fields', multipart(Array.from({ length: 100 }, (_, i) => [`f${i}`, 'v'])), 400, ['invalid_parameter', 'invalid_body']);
  await expect('multipart field of 64 KiB', multipart([['resumableRelativePath', 'r'.repeat(65536)]]), 400, 'invalid_parameter');
  await expect('relative path of 5000 bytes in the query', post({ resumableRelativePath: 'p'.repeat(5000) }, Buffer.alloc(16)), 400, 'invalid_parameter');
  await expect('identifier of 256 bytes', post({ resumableIdentifier: 'i'.repeat(256) }, Buffer.alloc(16)), 400, 'invalid_parameter');
  await expect('method PATCH', http(`${server.url}/upload`, { method: 'PATCH', headers: headers() }), 405, 'method_not_allowed');
  await expect('unknown path below the mount', http(`${server.url}/upload/../upload/x`, { headers: headers() }), 404, 'not_found');

  // Huge headers and query strings: refused by CivetWeb before the endpoint (max_request_size 16 KiB).
  const huge = [];
  const hugeHeader = await http(`${server.url}/upload/status?identifier=x`, { headers: { ...headers(), 'X-Filler': 'h'.repeat(64 * KiB) } });
  huge.push({ name: 'a 64 KiB header', status: hugeHeader.status ?? hugeHeader.error, code: hugeHeader.json?.error });
  const hugeQuery = await http(`${server.url}/upload/status?identifier=${'q'.repeat(100 * KiB)}`, { headers: headers() });
  huge.push({ name: 'a 100 KiB query string', status: hugeQuery.status ?? hugeQuery.error, code: hugeQuery.json?.error });
  const manyHeaders = await http(`${server.url}/upload/status?identifier=x`, { headers: { ...headers(), ...Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`X-H${i}`, 'v'])) } });
  huge.push({ name: '200 headers', status: manyHeaders.status ?? manyHeaders.error, code: manyHeaders.json?.error });
  // A head over max_request_size is refused by CivetWeb before the endpoint; resumable::json_http_error
  // gives it the JSON body. 200 small headers fit: CivetWeb keeps the first 64, the endpoint answers.
  for (const h of huge) {
    assert.deepEqual([h.status, h.code], h.name === '200 headers' ? [404, 'upload_not_found'] : [400, 'malformed_request'], h.name);
  }

  // Slow senders: 12 connections drip their headers, 4 drip a chunk body; each must be closed by the
  // server's request timeout, not held.
  const slowHead = 'POST /upload HTTP/1.1\r\nHost: x\r\n';
  const slowHeaders = Array.from({ length: 12 }, () => slowSender(slowHead, 'X-A: b\r\n'.repeat(200).split(''), 300, 30000));
  const bodyHead = `POST /upload?${params({ resumableIdentifier: 'slow-body' })} HTTP/1.1\r\nHost: x\r\nX-Test-User: slow\r\nContent-Type: application/octet-stream\r\nContent-Length: 65536\r\n\r\n`;
  const slowBodies = Array.from({ length: 4 }, (_, i) => slowSender(bodyHead.replace('slow-body', `slow-body-${i}`), 'y'.repeat(65536).split(''), 300, 12000));
  const headerResults = await Promise.all(slowHeaders);
  const bodyResults = await Promise.all(slowBodies);

  const during = await steady.stop();
  const figures = {
    cases: cases.length, hugeRequests: huge,
    slowHeaderClosedAfterMs: headerResults.map((r) => r.closedAfterMs), slowHeaderReplies: [...new Set(headerResults.map((r) => r.reply))],
    slowBodyClosedAfterMs: bodyResults.map((r) => r.closedAfterMs), slowBodyReplies: [...new Set(bodyResults.map((r) => r.reply))],
    steadyBaseline: { uploads: base.uploads, failures: base.failures, p50: pct(base.latencies, 0.5), p95: pct(base.latencies, 0.95), max: pct(base.latencies, 1) },
    steadyDuringAbuse: { uploads: during.uploads, failures: during.failures, p50: pct(during.latencies, 0.5), p95: pct(during.latencies, 0.95), max: pct(during.latencies, 1) },
  };
  reportFigures('abuse', figures);
  console.log(cases.map((c) => `${c.name}: ${c.status} ${c.code ?? ''}`).join('\n'));

  assert.equal(during.failures, 0, 'the steady client never failed during the abuse');
  assert.ok(during.uploads >= 3, 'the steady client kept uploading');
  for (const r of headerResults) {
    assert.ok(r.closedAfterMs !== null && r.closedAfterMs < TIMEOUT_MS * 4, `a slow header sender is cut off by the timeout (${r.closedAfterMs} ms)`);
    assert.match(r.body, /"error":"malformed_request"/, 'a head cut off by the timeout gets a JSON error');
  }
  // Slow bodies: CivetWeb's request_timeout_ms bounds each wait for data, but mg_read returns only
  // once all the bytes it asked for arrived, so a body dripping a byte every 300 ms would hold its
  // worker until complete. The endpoint's body watchdog ends it: 408 body_too_slow, after the
  // allowance (BODY_GRACE_MS + one 256 KiB read at BODY_MIN_RATE, i.e. 2 s) plus its 250 ms tick.
  for (const r of bodyResults) {
    assert.ok(r.closedAfterMs !== null && r.closedAfterMs < 6000, `a slow body is cut off (${r.closedAfterMs} ms)`);
    assert.match(r.reply, /^HTTP\/1.1 408 /, 'a slow body is answered 408');
  }
  // The slow bodies left no chunk behind.
  const status = await http(`${server.url}/upload/status?identifier=slow-body-0`, { headers: headers('slow') });
  assert.ok(status.status === 404 || status.json.received.length === 0, status.text);
});
