// The IETF draft's Resumable Uploads for HTTP (issue 13) with a client written here against the
// draft text (tests/system/ietf_support.mjs), and with tus-js-client 4.3.1's IETF modes (npm,
// unmodified): creation with and without content, 104 Upload Resumption Supported, offset retrieval,
// appends, an upload cut mid-body then resumed from its offset, cancellation, an empty completing
// append, Content-Digest and Repr-Digest, interop version 3's Upload-Incomplete. Every stored file
// is compared byte for byte with what was sent (claimed with the Upload-Token the client got).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { MiB, V8, claim, completeOf, offsetOf, rmSync, scratchDir, send, sleep, startIetfServer } from './ietf_support.mjs';

const tus = createRequire(import.meta.url)('tus-js-client');
let dir, server, base;
const alice = { 'X-Test-User': 'alice' };
const sha = (algorithm, bytes) => createHash(algorithm).update(bytes).digest('base64');
const digestField = (bytes, algorithm = 'sha256') => `${algorithm === 'sha256' ? 'sha-256' : 'sha-512'}=:${sha(algorithm, bytes)}:`;

before(async () => {
  dir = scratchDir('ietf-client');
  server = await startIetfServer({ dataDir: join(dir, 'data'), args: ['--append-piece-bytes', String(MiB)] });
  base = server.url.replace(/\/$/, '');
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Claims the upload with the token a reply carried and checks the stored bytes.
async function expectStored(reply, data) {
  assert.equal(completeOf(reply), '?1', 'the completing reply says Upload-Complete: ?1');
  const token = reply.headers['upload-token'];
  assert.match(token ?? '', /^[0-9a-f]{64}$/);
  assert.match(reply.headers['upload-file-digest'], /^rsm-tree-v1 [0-9a-f]{64}$/);
  const claimed = await claim(base, token);
  assert.equal(claimed.status, 200, claimed.text);
  assert.equal(claimed.json.size, data.length);
  assert.ok(readFileSync(claimed.json.path).equals(data), 'stored byte-identical');
  rmSync(claimed.json.path);
}

const head = (url, headers = V8) => send(url, { method: 'HEAD', headers: { ...alice, ...headers } });
const patch = (url, offset, body, headers = {}) => send(url, {
  method: 'PATCH',
  headers: { ...alice, ...V8, 'Content-Type': 'application/partial-upload', 'Upload-Offset': String(offset), ...headers },
  body,
});

test('creation with the whole representation: 104 with Location and limits, then the final result', async () => {
  const data = randomBytes(3 * MiB + 11);
  const r = await send(`${base}/resumable`, {
    method: 'POST',
    headers: { ...alice, ...V8, 'Upload-Complete': '?1', 'Content-Disposition': 'inline; filename="a b.bin"',
      'Repr-Digest': digestField(data) },
    body: data,
  });
  assert.equal(r.status, 200, r.text);
  const interim = r.informational.filter((i) => i.status === 104);
  assert.equal(interim.length, 1, '104 Upload Resumption Supported');
  assert.match(interim[0].headers.location, /^\/resumable\/[0-9a-f]{32}$/);
  assert.equal(interim[0].headers['upload-draft-interop-version'], '8');
  assert.match(interim[0].headers['upload-limit'], /^max-size=\d+, max-age=\d+$/);
  assert.equal(r.headers.location, interim[0].headers.location, 'the same Location in every reply');
  assert.equal(r.json.status, 'complete');
  assert.equal(r.json.fileName, 'a b.bin');
  assert.equal(r.json.token, r.headers['upload-token']);
  await expectStored(r, data);
});

test('careful creation, HEAD, appends with Content-Digest, and HEAD once complete', async () => {
  const data = randomBytes(2 * MiB + 5);
  const created = await send(`${base}/resumable`, { method: 'POST', headers: { ...alice, ...V8, 'Upload-Complete': '?0' } });
  assert.equal(created.status, 201, created.text);
  assert.equal(completeOf(created), '?0');
  assert.equal(offsetOf(created), 0);
  assert.match(created.headers['upload-limit'], /max-size=\d+/);
  assert.equal(created.informational.length, 0, 'no 104 without content');
  const url = `${base}${created.headers.location}`;
  const first = await head(url);
  assert.equal(first.status, 204);
  assert.deepEqual([offsetOf(first), completeOf(first), first.headers['cache-control']], [0, '?0', 'no-store']);
  assert.equal(first.headers['upload-length'], undefined, 'no length known yet');
  const part = data.subarray(0, MiB + 3);
  const appended = await patch(url, 0, part, { 'Upload-Complete': '?0', 'Content-Digest': digestField(part),
    'Upload-Length': String(data.length) });
  assert.equal(appended.status, 204, appended.text);
  assert.deepEqual([offsetOf(appended), completeOf(appended)], [part.length, '?0']);
  assert.equal((await head(url)).headers['upload-length'], String(data.length), 'the length is recorded');
  const rest = data.subarray(part.length);
  const done = await patch(url, part.length, rest, { 'Upload-Complete': '?1', 'Content-Digest': digestField(rest, 'sha512') });
  assert.equal(done.status, 200, done.text);
  assert.equal(offsetOf(done), data.length);
  const after = await head(url);
  assert.deepEqual([after.status, completeOf(after), after.headers['upload-token']], [204, '?1', done.headers['upload-token']]);
  await expectStored(done, data);
});

test('an upload cut mid-body keeps its committed pieces and is resumed from the offset HEAD gives', async () => {
  const data = randomBytes(4 * MiB);
  const cut = await send(`${base}/resumable`, {
    method: 'POST',
    headers: { ...alice, ...V8, 'Upload-Complete': '?1' },
    body: data,
    cutAfter: 2.5 * MiB,
  });
  assert.ok(cut.cut);
  const url = `${base}${cut.informational[0].headers.location}`;
  await sleep(300);  // the server reads what reached it before the cut
  const resumed = await head(url);
  assert.equal(resumed.status, 204);
  const offset = offsetOf(resumed);
  assert.equal(completeOf(resumed), '?0');
  assert.equal(resumed.headers['upload-length'], String(data.length), 'Upload-Complete: ?1 with Content-Length gave the length');
  assert.ok(offset >= MiB && offset <= 2 * MiB && offset % MiB === 0, `resumed at a committed piece: ${offset}`);
  const done = await patch(url, offset, data.subarray(offset), { 'Upload-Complete': '?1' });
  assert.equal(done.status, 200, done.text);
  await expectStored(done, data);
});

test('cancellation: DELETE removes the upload; it is gone for HEAD and PATCH', async () => {
  const created = await send(`${base}/resumable`, { method: 'POST', headers: { ...alice, ...V8, 'Upload-Complete': '?0' }, body: 'abc' });
  assert.equal(created.status, 201);
  assert.equal(offsetOf(created), 3);
  const url = `${base}${created.headers.location}`;
  assert.equal((await send(url, { method: 'DELETE', headers: { ...alice, ...V8 } })).status, 204);
  assert.equal((await head(url)).status, 404);
  const late = await patch(url, 3, 'def', { 'Upload-Complete': '?1' });
  assert.equal(late.status, 404);
  assert.equal(late.json.error, 'upload_not_found');
});

test('an append without content completes an upload whose length was never given', async () => {
  const created = await send(`${base}/resumable`, { method: 'POST', headers: { ...alice, ...V8, 'Upload-Complete': '?0' }, body: 'hello' });
  const url = `${base}${created.headers.location}`;
  const more = await patch(url, 5, ' world', { 'Upload-Complete': '?0' });
  assert.equal(more.status, 204);
  const done = await patch(url, 11, '', { 'Upload-Complete': '?1' });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.json.size, 11);
  await expectStored(done, Buffer.from('hello world'));
});

test('digests: a wrong Content-Digest or Repr-Digest records nothing; the right one then completes', async () => {
  const data = randomBytes(MiB + 1);
  const wrong = Buffer.from(data);
  wrong[7] ^= 1;
  const refused = await send(`${base}/resumable`, {
    method: 'POST', headers: { ...alice, ...V8, 'Upload-Complete': '?1', 'Repr-Digest': digestField(data) }, body: wrong,
  });
  assert.equal(refused.status, 400, refused.text);
  assert.equal(refused.json.error, 'chunk_digest_mismatch');
  const url = `${base}${refused.headers.location}`;
  assert.equal(offsetOf(await head(url)), 0, 'nothing was recorded');
  const again = await patch(url, 0, wrong, { 'Upload-Complete': '?1', 'Content-Digest': digestField(data, 'sha512') });
  assert.equal(again.json?.error, 'chunk_digest_mismatch');
  assert.equal(offsetOf(await head(url)), 0, 'nothing was recorded');
  const done = await patch(url, 0, data, { 'Upload-Complete': '?1', 'Content-Digest': digestField(data) });
  assert.equal(done.status, 200, done.text);
  await expectStored(done, data);
});

test('interop version 3 (URLSession on iOS 17) speaks Upload-Incomplete', async () => {
  const v3 = { 'Upload-Draft-Interop-Version': '3' };
  const created = await send(`${base}/resumable`, { method: 'POST', headers: { ...alice, ...v3, 'Upload-Incomplete': '?1' }, body: 'abc' });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.headers['upload-incomplete'], '?1');
  assert.equal(created.informational[0]?.headers['upload-draft-interop-version'], '3');
  const url = `${base}${created.headers.location}`;
  const state = await head(url, v3);
  assert.deepEqual([offsetOf(state), state.headers['upload-incomplete']], [3, '?1']);
  const done = await send(url, { method: 'PATCH', headers: { ...alice, ...v3, 'Upload-Offset': '3', 'Upload-Incomplete': '?0' }, body: 'def' });
  assert.equal(done.status, 200, done.text);
  assert.equal(done.headers['upload-incomplete'], '?0');
  assert.equal(done.headers['upload-complete'], undefined);
  const claimed = await claim(base, done.headers['upload-token']);
  assert.equal(readFileSync(claimed.json.path, 'utf8'), 'abcdef');
});

test('no 104 to a client that names no interop version', async () => {
  const r = await send(`${base}/resumable`, { method: 'POST', headers: { ...alice, 'Upload-Complete': '?1' }, body: 'xyz' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.informational.length, 0);
  assert.equal(r.headers['upload-draft-interop-version'], undefined);
});

for (const protocol of ['ietf-draft-03', 'ietf-draft-05']) {
  test(`tus-js-client protocol ${protocol}: 3 MiB in 1 MiB appends, stored byte-identical`, async () => {
    const data = randomBytes(3 * MiB + 77);
    let last = null;
    let patches = 0;
    await new Promise((resolve, reject) => {
      new tus.Upload(data, {
        endpoint: `${base}/resumable`,
        protocol,
        chunkSize: MiB,
        headers: alice,
        retryDelays: null,
        onAfterResponse(req, res) {
          if (req.getMethod() === 'PATCH') patches++;
          if (res.getHeader('Upload-Token')) last = res;
        },
        onSuccess: resolve,
        onError: reject,
      }).start();
    });
    assert.equal(patches, 4);
    assert.ok(last, 'the completing reply carried the token');
    const claimed = await claim(base, last.getHeader('Upload-Token'));
    assert.equal(claimed.status, 200, claimed.text);
    assert.ok(readFileSync(claimed.json.path).equals(data), 'stored byte-identical');
  });
}
