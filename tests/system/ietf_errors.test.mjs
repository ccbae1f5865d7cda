// The IETF draft front-end's bad input over real HTTP (issue 13): malformed Structured Fields
// (booleans other than ?0/?1, integers with signs, spaces or more than 15 digits), unknown interop
// versions, inconsistent lengths, limits, media types, offsets, appends to completed uploads,
// malformed digests and another principal's uploads. Each gets its status and JSON error code,
// and writes nothing: no upload appears and no offset moves.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MiB, V8, http, offsetOf, rmSync, scratchDir, send, startIetfServer } from './ietf_support.mjs';

let dir, server, base;
const alice = { 'X-Test-User': 'alice', ...V8 };

before(async () => {
  dir = scratchDir('ietf-errors');
  server = await startIetfServer({
    dataDir: join(dir, 'data'),
    args: ['--max-file-size', String(8 * MiB), '--allowed-extensions', 'bin,txt', '--allowed-origins', 'http://page.test'],
  });
  base = server.url.replace(/\/$/, '');
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const uploads = async () => (await http(`${base}/test/uploads`)).json.length;
const named = { 'Content-Disposition': 'inline; filename="a.bin"' };
const post = (headers, body) => send(`${base}/resumable`, { method: 'POST', headers: { ...alice, ...named, ...headers }, body });
const patch = (url, offset, body, headers = {}) => send(url, {
  method: 'PATCH',
  headers: { ...alice, 'Content-Type': 'application/partial-upload', 'Upload-Offset': String(offset), 'Upload-Complete': '?0', ...headers },
  body,
});

function expectError(r, status, code) {
  assert.equal(r.status, status, `${code}: ${r.status} ${r.text}`);
  if (code) assert.equal(r.json?.error, code, r.text);
}

async function create(body = 'abcd', headers = {}) {
  const r = await post({ 'Upload-Complete': '?0', 'Upload-Length': '10', ...headers }, body);
  assert.equal(r.status, 201, r.text);
  return `${base}${r.headers.location}`;
}

test('OPTIONS announces application/partial-upload and the limits', async () => {
  const r = await send(`${base}/resumable`, { method: 'OPTIONS', headers: alice });
  assert.equal(r.status, 204);
  assert.equal(r.headers['accept-patch'], 'application/partial-upload');
  assert.equal(r.headers['upload-limit'], `max-size=${8 * MiB}`);
});

test('creation refusals: fields, versions, lengths, limits, names; none creates an upload', async () => {
  const before = await uploads();
  for (const complete of ['true', '?2', '1', '?1;a=1', ' ?1x', '?']) {
    expectError(await post({ 'Upload-Complete': complete }, 'abc'), 400, 'invalid_parameter');
  }
  expectError(await post({}, 'abc'), 400, 'invalid_parameter');  // no Upload-Complete: not a resumable upload
  for (const length of ['-1', '+5', '1 0', '0x10', '1e3', '1.0', '1234567890123456', '5;x']) {
    expectError(await post({ 'Upload-Complete': '?0', 'Upload-Length': length }), 400, 'invalid_parameter');
  }
  for (const version of ['2', '9', 'x', '-6', '6.0', '6;a']) {
    expectError(await post({ 'Upload-Complete': '?1', 'Upload-Draft-Interop-Version': version }, 'abc'), 400, 'unsupported_version');
  }
  const tooLarge = await post({ 'Upload-Complete': '?0', 'Upload-Length': String(8 * MiB + 1) });
  expectError(tooLarge, 413, 'file_too_large');
  assert.equal(tooLarge.headers['upload-limit'], `max-size=${8 * MiB}`, 'a 413 from the limits carries them');
  expectError(await post({ 'Upload-Complete': '?0', 'Upload-Length': '2' }, 'abc'), 400, 'invalid_geometry');
  expectError(await post({ 'Upload-Complete': '?1', 'Upload-Length': '5' }, 'abc'), 400, 'upload_conflict');
  expectError(await post({ 'Upload-Complete': '?1', 'Upload-Offset': '3' }, 'abc'), 400, 'invalid_parameter');
  expectError(await post({ 'Upload-Complete': '?1', 'Content-Disposition': 'inline; filename="setup.exe"' }, 'abc'), 415,
    'type_not_allowed');
  for (const disposition of ['inline; filename="a.bin', 'inline; filename=a b.bin', 'inline; filename',
    `inline; filename="${'a'.repeat(300)}.bin"`]) {
    expectError(await post({ 'Upload-Complete': '?1', 'Content-Disposition': disposition }, 'abc'), 400, 'invalid_parameter');
  }
  for (const digest of ['sha-256=abc', 'sha-256=:not base64:', 'sha-256=:AAAA:', 'SHA-256=:AAAA:',
    `sha-256=:${'A'.repeat(43)}=:, sha-256=:${'A'.repeat(43)}=:`, `sha-256=:${'A'.repeat(43)}=:;p=1`, `sha-256=:${'A'.repeat(43)}=:,`]) {
    expectError(await post({ 'Upload-Complete': '?1', 'Content-Digest': digest }, 'abc'), 400, 'invalid_parameter');
  }
  // A Repr-Digest the server cannot check (the request does not carry the whole representation).
  expectError(await post({ 'Upload-Complete': '?0', 'Repr-Digest': `sha-256=:${'A'.repeat(43)}=:` }, 'abc'), 400,
    'invalid_parameter');
  const chunked = await send(`${base}/resumable`, {
    method: 'POST', headers: { ...alice, ...named, 'Upload-Complete': '?1', 'Transfer-Encoding': 'chunked' }, body: undefined,
  });
  expectError(chunked, 400, 'invalid_body');
  assert.equal(await uploads(), before, 'no refused creation left an upload');
});

test('append refusals leave the offset where it was', async () => {
  const url = await create();
  const offset = async () => offsetOf(await send(url, { method: 'HEAD', headers: alice }));
  expectError(await patch(url, 4, 'efgh', { 'Content-Type': 'application/offset+octet-stream' }), 415, 'unsupported_content_type');
  expectError(await patch(url, 4, 'efgh', { 'Content-Type': undefined }), 415, 'unsupported_content_type');
  for (const value of ['-4', '+4', '4.0', '0x4', '1234567890123456', '']) {
    expectError(await patch(url, value, 'efgh'), 400, 'invalid_parameter');
  }
  expectError(await patch(url, 4, 'efgh', { 'Upload-Complete': undefined }), 400, 'invalid_parameter');
  expectError(await patch(url, 4, 'efgh', { 'Upload-Complete': 'yes' }), 400, 'invalid_parameter');
  const mismatch = await patch(url, 2, 'cdef');
  expectError(mismatch, 409, 'offset_mismatch');
  assert.equal(mismatch.headers['upload-offset'], '4', 'the 409 carries the right offset');
  expectError(await patch(url, 4, 'efghijklmn'), 400, 'invalid_geometry');  // past the length
  expectError(await patch(url, 4, 'efgh', { 'Upload-Length': '12' }), 400, 'upload_conflict');  // another length
  expectError(await patch(url, 4, 'efgh', { 'Upload-Complete': '?1' }), 400, 'upload_conflict');  // ends short of it
  expectError(await patch(url, 4, 'efgh', { 'Upload-Draft-Interop-Version': '99' }), 400, 'unsupported_version');
  expectError(await patch(url, 4, 'efgh', { 'Content-Digest': `sha-256=:${'A'.repeat(43)}=:` }), 400, 'chunk_digest_mismatch');
  expectError(await patch(url, 4, 'efgh', { 'Repr-Digest': `sha-256=:${'A'.repeat(43)}=:` }), 400, 'invalid_parameter');
  assert.equal(await offset(), 4);
  const done = await patch(url, 4, 'efghij', { 'Upload-Complete': '?1' });
  assert.equal(done.status, 200, done.text);
  expectError(await patch(url, 10, 'k', { 'Upload-Complete': '?1' }), 400, 'upload_conflict');  // completed
  expectError(await patch(url, 10, '', { 'Upload-Complete': '?1' }), 400, 'upload_conflict');
});

test('interop version 5 takes appends of any type; a 413 past the size limit carries Upload-Limit', async () => {
  const url = await create();
  const r = await patch(url, 4, 'efgh', { 'Upload-Draft-Interop-Version': '5', 'Content-Type': 'application/octet-stream' });
  assert.equal(r.status, 204, r.text);
  const open = `${base}${(await post({ 'Upload-Complete': '?0' }, 'ab')).headers.location}`;
  const big = await patch(open, 2, 'x', { 'Upload-Length': String(8 * MiB + 1) });
  expectError(big, 413, 'file_too_large');
  assert.equal(big.headers['upload-limit'], `max-size=${8 * MiB}`);
});

test('another principal sees nothing: 404 for HEAD, PATCH and DELETE; unknown ids and paths too', async () => {
  const url = await create();
  const mallory = { 'X-Test-User': 'mallory', ...V8 };
  const head = await send(url, { method: 'HEAD', headers: mallory });
  assert.equal(head.status, 404);
  assert.equal(head.text, '', 'a reply to HEAD has no body');
  expectError(await patch(url, 4, 'efgh', mallory), 404, 'upload_not_found');
  expectError(await send(url, { method: 'DELETE', headers: mallory }), 404, 'upload_not_found');
  expectError(await send(`${base}/resumable/not-an-id`, { method: 'PATCH', headers: alice }), 404, 'not_found');
  const wrongMethod = await send(`${base}/resumable`, { method: 'PATCH', headers: alice });
  expectError(wrongMethod, 405, 'method_not_allowed');
  assert.equal(wrongMethod.headers.allow, 'POST, PUT, OPTIONS');
  expectError(await send(`${base}/resumable`, { method: 'POST', headers: { 'Upload-Complete': '?1' }, body: 'a' }), 401,
    'unauthenticated');
  assert.equal(offsetOf(await send(url, { method: 'HEAD', headers: alice })), 4, 'the owner still has it');
});

test('a page on an allowed origin may read the draft headers', async () => {
  const created = await post({ 'Upload-Complete': '?0', Origin: 'http://page.test' });
  assert.equal(created.status, 201);
  const exposed = created.headers['access-control-expose-headers'].split(',').map((h) => h.trim().toLowerCase());
  for (const h of ['location', 'upload-offset', 'upload-complete', 'upload-limit', 'upload-token', 'upload-file-digest']) {
    assert.ok(exposed.includes(h), h);
  }
});
