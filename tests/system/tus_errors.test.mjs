// The tus front-end's error paths and checksums over real HTTP (issue 13): every refusal has the
// tus spec's status and our JSON error code, and writes nothing (no upload appears, the offset does
// not move); Upload-Checksum sha1, sha256 and rsm-tree-v1 are each accepted when right and get 460
// when wrong; concatenation (Upload-Concat) joins finished partials of the same principal only.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import {
  MiB, TUS, claim, http, referenceDigest, rmSync, scratchDir, startTusServer, treeChunkDigest,
} from './tus_support.mjs';

let dir, server, base;
const alice = { ...TUS, 'X-Test-User': 'alice' };
const b64 = (text) => Buffer.from(text).toString('base64');

before(async () => {
  dir = scratchDir('tus-errors');
  server = await startTusServer({
    dataDir: join(dir, 'data'),
    args: ['--max-file-size', String(8 * MiB), '--allowed-extensions', 'bin,txt', '--max-metadata-bytes', '512',
      '--append-piece-bytes', String(MiB), '--chunk-wait-ms', '4000', '--allowed-origins', 'http://page.test'],
  });
  base = server.url.replace(/\/$/, '');
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const uploads = async () => (await http(`${base}/test/uploads`)).json.length;

async function create(length, headers = {}) {
  const r = await http(`${base}/files`, {
    method: 'POST',
    headers: { ...alice, 'Upload-Length': String(length), 'Upload-Metadata': `filename ${b64('a.bin')}`, ...headers },
  });
  assert.equal(r.status, 201, r.text);
  assert.match(r.headers['upload-expires'], /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
  return `${base}${r.headers.location}`;
}

const patch = (url, offset, body, headers = {}) => http(url, {
  method: 'PATCH',
  headers: { ...alice, 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(offset), ...headers },
  body,
});
const offsetOf = async (url, user = alice) => {
  const r = await http(url, { method: 'HEAD', headers: user });
  return r.status === 200 ? Number(r.headers['upload-offset']) : r.status;
};

function expectError(r, status, code) {
  assert.equal(r.status, status, `${code}: ${r.status} ${r.text}`);
  assert.equal(r.headers['tus-resumable'], '1.0.0');
  if (code) assert.equal(r.json?.error, code, r.text);
}

test('OPTIONS lists version, extensions, maximum size and checksum algorithms', async () => {
  const r = await http(`${base}/files`, { method: 'OPTIONS', headers: { 'X-Test-User': 'alice' } });
  assert.equal(r.status, 204);
  assert.equal(r.headers['tus-version'], '1.0.0');
  assert.equal(r.headers['tus-max-size'], String(8 * MiB));
  assert.equal(r.headers['tus-checksum-algorithm'], 'sha1,sha256,rsm-tree-v1');
  for (const e of ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration', 'checksum',
    'concatenation']) {
    assert.ok(r.headers['tus-extension'].split(',').includes(e), e);
  }
  assert.ok(!r.headers['tus-extension'].includes('concatenation-unfinished'), 'finals name finished partials only');
});

test('creation refusals: version, lengths, metadata, limits; none creates an upload', async () => {
  const before = await uploads();
  const post = (headers) => http(`${base}/files`, { method: 'POST', headers: { 'X-Test-User': 'alice', ...headers } });
  const r412 = await post({ 'Tus-Resumable': '0.2.2', 'Upload-Length': '10' });
  expectError(r412, 412, 'unsupported_version');
  assert.equal(r412.headers['tus-version'], '1.0.0');
  expectError(await post({ 'Upload-Length': '10' }), 412, 'unsupported_version');  // no Tus-Resumable
  for (const length of ['-1', '+5', '1 0', '0x10', '1e3', '99999999999999999999', '9223372036854775808', '']) {
    expectError(await post({ ...TUS, 'Upload-Length': length }), 400, 'invalid_parameter');
  }
  expectError(await post({ ...TUS }), 400, 'invalid_parameter');  // neither length nor deferral
  expectError(await post({ ...TUS, 'Upload-Length': '5', 'Upload-Defer-Length': '1' }), 400, 'invalid_parameter');
  expectError(await post({ ...TUS, 'Upload-Defer-Length': '2' }), 400, 'invalid_parameter');
  expectError(await post({ ...TUS, 'Upload-Length': String(8 * MiB + 1) }), 413, 'file_too_large');
  for (const metadata of [`filename ${b64('a.bin')}!`, 'filename a', `filename ${b64('a.bin')},`, 'fil ename x',
    `filename ${b64('a.bin')},filename ${b64('b.bin')}`, `filename ${b64('a\nb.bin')}`, `k ${'QUFB'.repeat(200)}`]) {
    expectError(await post({ ...TUS, 'Upload-Length': '5', 'Upload-Metadata': metadata }), 400, 'invalid_parameter');
  }
  expectError(await post({ ...TUS, 'Upload-Length': '5', 'Upload-Metadata': `filename ${b64('setup.exe')}` }), 415,
    'type_not_allowed');
  const withBody = await http(`${base}/files`, {
    method: 'POST', headers: { ...alice, 'Upload-Length': '5', 'Content-Type': 'text/plain' }, body: 'hello',
  });
  expectError(withBody, 415, 'unsupported_content_type');
  const tooLong = await http(`${base}/files`, {
    method: 'POST',
    headers: { ...alice, 'Upload-Length': '3', 'Content-Type': 'application/offset+octet-stream' },
    body: 'hello',
  });
  expectError(tooLong, 413, 'invalid_geometry');
  assert.equal(await uploads(), before, 'no refused creation left an upload');
});

test('PATCH refusals leave the offset where it was', async () => {
  const url = await create(10);
  assert.equal((await patch(url, 0, 'abcd')).status, 204);
  expectError(await patch(url, 4, 'efgh', { 'Content-Type': 'application/octet-stream' }), 415, 'unsupported_content_type');
  for (const offset of ['-4', '+4', '4.0', '18446744073709551620', '']) {
    expectError(await patch(url, offset, 'efgh'), 400, 'invalid_parameter');
  }
  const mismatch = await patch(url, 2, 'cdef');
  expectError(mismatch, 409, 'offset_mismatch');
  assert.equal(mismatch.headers['upload-offset'], '4');
  expectError(await patch(url, 4, 'efghijklmn'), 413, 'invalid_geometry');  // past the length
  expectError(await patch(url, 4, 'efgh', { 'Upload-Length': '12' }), 400, 'upload_conflict');  // a changed length
  expectError(await patch(url, 4, 'efgh', { 'Tus-Resumable': '2.0.0' }), 412, 'unsupported_version');
  expectError(await patch(url, 4, 'efgh', { 'Upload-Checksum': 'md5 AAAA' }), 400, 'invalid_parameter');
  expectError(await patch(url, 4, 'efgh', { 'Upload-Checksum': 'sha1 not-base64' }), 400, 'invalid_parameter');
  assert.equal(await offsetOf(url), 4);
  const done = await patch(url, 4, 'efghij');
  assert.equal(done.status, 204);
  assert.equal(done.headers['upload-offset'], '10');
  assert.ok(done.headers['upload-token'], 'the last PATCH carries the token');
  const head = await http(url, { method: 'HEAD', headers: alice });
  assert.equal(head.headers['upload-token'], done.headers['upload-token']);
  assert.equal(head.headers['upload-length'], '10');
  assert.equal(head.headers['upload-metadata'], `filename ${b64('a.bin')}`);
  assert.equal(head.headers['cache-control'], 'no-store');
});

test('404 for unknown, foreign and terminated uploads; HEAD errors carry no body', async () => {
  const url = await create(10);
  const unknown = await http(`${base}/files/${'0'.repeat(32)}`, { method: 'HEAD', headers: alice });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.text, '');
  expectError(await http(`${base}/files/not-an-id`, { method: 'PATCH', headers: alice }), 404, 'not_found');
  assert.equal(await offsetOf(url, { ...TUS, 'X-Test-User': 'mallory' }), 404, 'another principal sees nothing');
  expectError(await patch(url, 0, 'abc', { 'X-Test-User': 'mallory' }), 404, 'upload_not_found');
  assert.equal((await http(url, { method: 'DELETE', headers: { ...TUS, 'X-Test-User': 'mallory' } })).status, 404);
  assert.equal((await http(url, { method: 'DELETE', headers: alice })).status, 204);
  expectError(await patch(url, 0, 'abc'), 404, 'upload_not_found');
  assert.equal(await offsetOf(url), 404);
});

test('creation-with-upload, an empty file, and a deferred length', async () => {
  const named = { ...alice, 'Upload-Metadata': `filename ${b64('b.txt')},filetype ${b64('text/plain')}` };
  const withBody = await http(`${base}/files`, {
    method: 'POST',
    headers: { ...named, 'Upload-Length': '5', 'Content-Type': 'application/offset+octet-stream' },
    body: 'hel',
  });
  assert.equal(withBody.status, 201);
  assert.equal(withBody.headers['upload-offset'], '3');
  const empty = await http(`${base}/files`, { method: 'POST', headers: { ...named, 'Upload-Length': '0' } });
  assert.equal(empty.status, 201);
  const emptyHead = await http(`${base}${empty.headers.location}`, { method: 'HEAD', headers: alice });
  assert.ok(emptyHead.headers['upload-token']);
  assert.equal(emptyHead.headers['upload-file-digest'],
    'rsm-tree-v1 a93b05daffad23ac1771f78d8ae36ecfc20f0e1c90d424f94445143a81e4bd69');
  const deferred = await http(`${base}/files`, { method: 'POST', headers: { ...named, 'Upload-Defer-Length': '1' } });
  const url = `${base}${deferred.headers.location}`;
  assert.equal((await http(url, { method: 'HEAD', headers: alice })).headers['upload-defer-length'], '1');
  assert.equal((await patch(url, 0, 'abc')).status, 204);
  const last = await patch(url, 3, 'def', { 'Upload-Length': '6' });
  assert.equal(last.status, 204);
  assert.ok(last.headers['upload-token']);
});

test('Upload-Checksum: sha1, sha256 and rsm-tree-v1 accepted when right; 460 and no move when wrong', async () => {
  const size = 3 * MiB + 5;
  const data = randomBytes(size);
  const url = await create(size);
  const pieces = [[0, MiB + 17, 'sha1'], [MiB + 17, MiB, 'sha256'], [2 * MiB + 17, MiB - 12, 'rsm-tree-v1'],
    [3 * MiB + 5 - 0, 0, null]];
  const digestOf = (algorithm, bytes, offset) => (algorithm === 'rsm-tree-v1'
    ? treeChunkDigest(bytes, offset, size) : createHash(algorithm).update(bytes).digest()).toString('base64');
  let offset = 0;
  for (const [start, length, algorithm] of pieces.slice(0, 3)) {
    let bytes = data.subarray(start, start + length);
    if (algorithm === 'rsm-tree-v1') bytes = data.subarray(start);  // the rest of the file
    const wrong = Buffer.from(bytes);
    wrong[wrong.length >> 1] ^= 1;
    const refused = await patch(url, offset, wrong, { 'Upload-Checksum': `${algorithm} ${digestOf(algorithm, bytes, start)}` });
    expectError(refused, 460, 'chunk_digest_mismatch');
    assert.equal(await offsetOf(url), offset, `${algorithm}: the offset did not move`);
    const stored = await patch(url, offset, bytes, { 'Upload-Checksum': `${algorithm} ${digestOf(algorithm, bytes, start)}` });
    assert.equal(stored.status, 204, `${algorithm}: ${stored.text}`);
    offset += bytes.length;
    assert.equal(Number(stored.headers['upload-offset']), offset);
  }
  assert.equal(offset, size);
});

test('a PATCH takes over from a stalled one: its committed pieces stay, the rest comes from the newcomer', async () => {
  const size = 4 * MiB;
  const data = randomBytes(size);
  const url = await create(size);
  // The stalled PATCH sends 2.5 MiB of its 4 MiB body, then nothing (its socket stays open).
  const stalled = connect(Number(new URL(base).port), '127.0.0.1');
  await once(stalled, 'connect');
  const closed = once(stalled, 'close');
  stalled.on('error', () => {});
  stalled.write(`PATCH ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\nX-Test-User: alice\r\nTus-Resumable: 1.0.0\r\n` +
    `Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nContent-Length: ${size}\r\n\r\n`);
  stalled.write(data.subarray(0, 2.5 * MiB));
  let offset = 0;
  for (let i = 0; i < 200 && offset < 2 * MiB; i++) {  // its first two 1 MiB pieces are committed
    await new Promise((r) => setTimeout(r, 20));
    offset = await offsetOf(url);
  }
  assert.equal(offset, 2 * MiB);
  // The client resumes at once; without the takeover it would wait chunk_wait (4 s) and get 423.
  const started = Date.now();
  const resumed = await patch(url, offset, data.subarray(offset));
  assert.equal(resumed.status, 204, resumed.text);
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  await closed;  // the stalled request was ended
  const claimed = await claim(base, resumed.headers['upload-token']);
  assert.equal(claimed.status, 200);
  assert.equal(createHash('sha256').update(readFileSync(claimed.json.path)).digest('hex'),
    createHash('sha256').update(data).digest('hex'), 'stored byte-identical');
});

test('a page on an allowed origin gets its preflight answered and may read the tus headers', async () => {
  const origin = { Origin: 'http://page.test' };
  const preflight = await http(`${base}/files`, {
    method: 'OPTIONS',
    headers: { ...origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'tus-resumable,upload-length' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers['access-control-allow-origin'], 'http://page.test');
  assert.match(preflight.headers['access-control-allow-methods'], /POST/);
  const created = await http(`${base}/files`, {
    method: 'POST', headers: { ...alice, ...origin, 'Upload-Length': '3', 'Upload-Metadata': `filename ${b64('c.txt')}` },
  });
  assert.equal(created.status, 201);
  const exposed = created.headers['access-control-expose-headers'].split(',').map((h) => h.trim().toLowerCase());
  for (const h of ['location', 'upload-offset', 'upload-expires', 'upload-token', 'upload-file-digest', 'tus-resumable']) {
    assert.ok(exposed.includes(h), h);
  }
});

test('concatenation: refusals create nothing and leave the partials; the final joins them, HEAD and PATCH per spec', async () => {
  const partial = async (bytes, user = alice, sent = bytes.length) => {
    const r = await http(`${base}/files`, {
      method: 'POST', headers: { ...user, 'Upload-Concat': 'partial', 'Upload-Length': String(bytes.length) },
    });
    assert.equal(r.status, 201, r.text);
    const url = `${base}${r.headers.location}`;
    const stored = await patch(url, 0, bytes.subarray(0, sent), user);
    assert.equal(stored.status, 204, stored.text);
    assert.equal(stored.headers['upload-token'], undefined, 'a partial is never released as a file');
    return url;
  };
  const final = (list, headers = {}) => http(`${base}/files`, {
    method: 'POST', headers: { ...alice, 'Upload-Concat': `final;${list}`, 'Upload-Metadata': `filename ${b64('j.bin')}`, ...headers },
  });
  const path = (url) => new URL(url).pathname;
  // Partials of 1 MiB + 3, 2 MiB - 3 and 1 MiB + 2 bytes: the final's digest takes the first's and
  // the third's leaves (they start on 1 MiB boundaries) and hashes the leaf that spans the first two,
  // and all of the second (whose leaves are not the final's), again from their bytes.
  const data = randomBytes(4 * MiB + 2);
  const a = await partial(data.subarray(0, MiB + 3));
  const b = await partial(data.subarray(MiB + 3, 3 * MiB), alice, MiB);  // unfinished for now
  const c = await partial(data.subarray(3 * MiB));
  const whole = await create(3);
  assert.equal((await patch(whole, 0, 'xyz')).status, 204);
  const mallory = { ...TUS, 'X-Test-User': 'mallory' };
  const foreign = await partial(Buffer.from('mine'), mallory);
  const headA = await http(a, { method: 'HEAD', headers: alice });
  assert.equal(headA.headers['upload-concat'], 'partial');
  assert.equal(headA.headers['upload-offset'], String(MiB + 3));

  const held = await uploads();
  const files = () => readdirSync(join(dir, 'data', 'files')).length;
  const filesBefore = files();
  const refusals = [
    [`${a} ${b}`, {}, 400, 'partial_upload_unfinished'],
    [`${path(a)} ${path(whole)}`, {}, 400, 'not_a_partial_upload'],
    [`${a} ${foreign}`, {}, 404, 'upload_not_found'],  // another principal's: as if unknown
    [`${a} ${base}/files/${'0'.repeat(32)}`, {}, 404, 'upload_not_found'],
    [`${a} ${a}`, {}, 400, 'invalid_parameter'],
    [path(a), { 'Upload-Length': String(MiB + 3) }, 400, 'invalid_parameter'],
    [path(a), { 'Upload-Defer-Length': '1' }, 400, 'invalid_parameter'],
  ];
  for (const [list, headers, status, code] of refusals) expectError(await final(list, headers), status, code);
  for (const malformed of ['final;', 'final', 'partial;', 'Partial', `final ${path(a)}`, `final;${path(a)}x`,
    `final;/other/${path(a).slice(7)}`, `final;${path(a)}/`, `final;http://${path(a)}`, `final;ftp://h${path(a)}`,
    `final;${path(a)},${path(b)}`, `final;${path(a)}?x=1`]) {
    const r = await http(`${base}/files`, { method: 'POST', headers: { ...alice, 'Upload-Concat': malformed } });
    expectError(r, 400, 'invalid_parameter');
  }
  assert.equal(await uploads(), held, 'no refused concatenation created an upload');
  assert.equal(files(), filesBefore, 'nor released a file');
  assert.equal(await offsetOf(a), MiB + 3, 'the partial is as it was');
  assert.equal(await offsetOf(foreign, mallory), 4, "mallory's partial is as it was");

  assert.equal((await patch(b, MiB, data.subarray(2 * MiB + 3, 3 * MiB))).status, 204);
  const joined = await final(`${a} ${path(b)}  ${c}`);  // absolute (as tus-js-client sends) and paths alike
  assert.equal(joined.status, 201, joined.text);
  const url = `${base}${joined.headers.location}`;
  const reference = join(dir, 'joined.bin');
  writeFileSync(reference, data);
  assert.equal(joined.headers['upload-file-digest'], `rsm-tree-v1 ${referenceDigest(reference)}`);
  const head = await http(url, { method: 'HEAD', headers: alice });
  assert.equal(head.status, 200);
  assert.equal(head.headers['upload-concat'], `final;${path(a)} ${path(b)} ${path(c)}`);
  assert.equal(head.headers['upload-offset'], String(data.length));
  assert.equal(head.headers['upload-length'], String(data.length));
  assert.equal(head.headers['upload-token'], joined.headers['upload-token']);
  expectError(await patch(url, data.length, 'more'), 403, 'final_upload_immutable');
  expectError(await patch(url, 0, 'more'), 403, 'final_upload_immutable');
  assert.equal(await offsetOf(a), 404, 'the partials were consumed');
  assert.equal(await offsetOf(b), 404);
  assert.equal(await offsetOf(c), 404);
  assert.equal(await uploads(), held - 2, 'three partials went, the final came');
  const claimed = await claim(base, joined.headers['upload-token']);
  assert.equal(claimed.status, 200, claimed.text);
  assert.ok(readFileSync(claimed.json.path).equals(data), 'stored byte-identical');
});
