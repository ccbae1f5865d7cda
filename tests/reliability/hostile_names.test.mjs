// Hostile names (hostile_names.mjs, 140 entries) as identifiers, file names (multipart fields) and
// relative paths, plus raw invalid UTF-8 in the query string: names with control characters, NUL,
// invalid UTF-8 or more than 255 bytes are refused with invalid_parameter; every other name is
// accepted, round-trips unchanged in the final result and the status reply, and is never used as a
// path: the server (started with its working directory inside a sandbox) writes nothing outside its
// data directory, and every released file is named by the server (<32 hex>[.ext]).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HOSTILE_NAMES, mustRefuse } from './hostile_names.mjs';
import { claim, http, listTree, mkdirSync, reportFigures, rmSync, scratchDir, startServer } from './support.mjs';

let sandbox, server;
const outsideBefore = {};

before(async () => {
  sandbox = scratchDir('names');
  mkdirSync(join(sandbox, 'cwd'));
  mkdirSync(join(sandbox, 'outside'));
  for (const p of ['/etc/passwd', '/etc/hostname']) outsideBefore[p] = statSync(p).mtimeMs;
  server = await startServer({ dataDir: join(sandbox, 'data'), cwd: join(sandbox, 'cwd'), args: ['--durable', '0', '--max-uploads-per-principal', '1000', '--max-unclaimed-per-principal', '1000'] });
});

after(async () => {
  const code = await server?.stop();
  rmSync(sandbox, { recursive: true, force: true });
  assert.equal(code, 0);
});

const body = Buffer.from('hostile name test body\n');
const base = (o) => ({
  resumableChunkNumber: 1, resumableChunkSize: 1024, resumableCurrentChunkSize: body.length, resumableTotalSize: body.length,
  resumableTotalChunks: 1, resumableIdentifier: 'id', resumableFilename: 'f.bin', ...o,
});

async function sendQuery(params, user = 'alice') {
  return http(`${server.url}/upload?${new URLSearchParams(params)}`, { method: 'POST', headers: { 'X-Test-User': user }, body });
}

async function sendMultipart(params, user = 'alice') {
  const boundary = '----rsmHostileNames42';
  const parts = Object.entries(params).map(([n, v]) => Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${n}"\r\n\r\n`), Buffer.from(String(v), 'utf8'), Buffer.from('\r\n')]));
  const payload = Buffer.concat([...parts,
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`),
    body, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  return http(`${server.url}/upload`, { method: 'POST', headers: { 'X-Test-User': user, 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body: payload });
}

test('hostile identifiers, file names and relative paths are refused or kept as display text, never as paths', { timeout: 600000 }, async () => {
  const figures = { corpus: HOSTILE_NAMES.length, requests: 0, accepted: 0, refused: 0, byRole: {} };
  const tokens = [];
  const check = async (role, name, reply, limit = 255) => {
    figures.requests++;
    const role$ = (figures.byRole[role] ??= { accepted: 0, refused: 0 });
    if (mustRefuse(name, limit)) {
      assert.equal(reply.status, 400, `${role} ${JSON.stringify(name)} must be refused: ${reply.status} ${reply.text}`);
      assert.equal(reply.json.error, 'invalid_parameter');
      figures.refused++; role$.refused++;
      return;
    }
    assert.equal(reply.status, 200, `${role} ${JSON.stringify(name)}: ${reply.status} ${reply.error ?? reply.text}`);
    assert.equal(reply.json.status, 'complete');
    figures.accepted++; role$.accepted++;
    tokens.push(reply.json.token);
    return reply.json;
  };

  for (const [i, name] of HOSTILE_NAMES.entries()) {
    // As the identifier (query string).
    const asId = await check('identifier', name, await sendQuery(base({ resumableIdentifier: name })));
    if (asId) {
      assert.equal(asId.identifier, name, 'the identifier round-trips unchanged');
      const status = await http(`${server.url}/upload/status?identifier=${encodeURIComponent(name)}`, { headers: { 'X-Test-User': 'alice' } });
      assert.equal(status.json.identifier, name);
      assert.equal(status.json.token, asId.token);
      // Another principal never sees it.
      const foreign = await http(`${server.url}/upload/status?identifier=${encodeURIComponent(name)}`, { headers: { 'X-Test-User': 'eve' } });
      assert.equal(foreign.status, 404);
    }
    // As the file name: multipart fields (raw UTF-8 bytes), or the query when it holds CR/LF.
    const viaQuery = /[\r\n]/.test(name);
    const fileParams = base({ resumableIdentifier: `fname-${i}`, resumableFilename: name });
    const asName = await check('fileName', name, viaQuery ? await sendQuery(fileParams) : await sendMultipart(fileParams));
    if (asName) assert.equal(asName.fileName, name, 'the file name round-trips unchanged');
    // As the relative path (limit 4096 bytes).
    await check('relativePath', name, await sendQuery(base({ resumableIdentifier: `rpath-${i}`, resumableRelativePath: name })), 4096);
    // Status and cancel with the name as identifier never fail oddly.
    const cancel = await http(`${server.url}/upload?identifier=${encodeURIComponent(name)}&x=1`, { method: 'DELETE', headers: { 'X-Test-User': 'nobody' } });
    assert.ok([204, 400].includes(cancel.status), `cancel ${JSON.stringify(name)}: ${cancel.status}`);
  }

  // Invalid UTF-8 and overlong encodings, sent raw: refused.
  const rawInvalid = ['%C0%AF', '%C0%AE%C0%AE%2F', '%E0%80%AF', '%ED%A0%80', '%F4%90%80%80', '%FF%FE', '%80', 'a%C3', '%F8%88%80%80%80'];
  for (const raw of rawInvalid) {
    for (const param of ['resumableIdentifier', 'resumableFilename', 'resumableRelativePath']) {
      const q = new URLSearchParams(base({ resumableIdentifier: 'raw-utf8' }));
      q.delete(param);
      const reply = await http(`${server.url}/upload?${q}&${param}=${raw}`, { method: 'POST', headers: { 'X-Test-User': 'alice' }, body });
      figures.requests++;
      assert.equal(reply.status, 400, `${param}=${raw}: ${reply.text}`);
      assert.equal(reply.json.error, 'invalid_parameter');
      figures.refused++;
    }
  }

  // Nothing outside the data directory: the sandbox holds only what it held, plus data/.
  const tree = listTree(sandbox);
  const outside = tree.filter((p) => !p.startsWith('data/') && !['cwd/', 'outside/', 'data/'].includes(p));
  assert.deepEqual(outside, [], 'nothing was written outside the data directory');
  for (const p of ['/tmp/rsm-pwned', '/rsm-pwned', join(sandbox, 'rsm-pwned')]) assert.ok(!existsSync(p), `${p} does not exist`);
  for (const [p, mtime] of Object.entries(outsideBefore)) assert.equal(statSync(p).mtimeMs, mtime, `${p} untouched`);
  // Every stored name is the server's own.
  const files = listTree(join(sandbox, 'data', 'files'));
  assert.ok(files.every((n) => /^[0-9a-f]{32}(\.[a-z0-9]{1,16})?$/.test(n)), `server-chosen names only: ${files.filter((n) => !/^[0-9a-f]{32}/.test(n))}`);
  const records = listTree(join(sandbox, 'data', 'chunks'));
  assert.ok(records.every((n) => /^[0-9a-f]{32}\/([a-z.-]+)?$/.test(n)), `server-chosen record names only: ${records.slice(0, 5)}`);
  // Claims hand out paths inside upload_to only.
  for (const token of new Set(tokens)) {  // a name twice in the corpus gets the same final result
    const c = await claim(server.url, token);
    assert.equal(c.status, 200);
    assert.ok(c.json.path.startsWith(join(sandbox, 'data', 'files') + '/'), c.json.path);
    rmSync(c.json.path);
  }
  figures.releasedFiles = files.length;
  reportFigures('hostile_names', figures);
  assert.ok(HOSTILE_NAMES.length >= 100);
});
