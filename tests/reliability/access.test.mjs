// Access: a staff-only mount and a login-required mount refuse anonymous (401) and wrong-role (403)
// requests before a byte of their body is read, and nothing is written for them; across principals,
// uploads, status, test GETs, cancels and tokens are invisible.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { KiB, claim, http, listTree, reportFigures, rmSync, scratchDir, startServer } from './support.mjs';

let dir, staffServer, loginServer;

before(async () => {
  dir = scratchDir('access');
  staffServer = await startServer({ dataDir: join(dir, 'staff'), args: ['--access', 'staff', '--durable', '0'] });
  loginServer = await startServer({ dataDir: join(dir, 'login'), args: ['--access', 'login', '--durable', '0'] });
});

after(async () => {
  await staffServer?.stop();
  await loginServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const body = Buffer.alloc(64 * KiB, 3);
const q = (o = {}) => new URLSearchParams({
  resumableChunkNumber: 1, resumableChunkSize: 64 * KiB, resumableCurrentChunkSize: 64 * KiB, resumableTotalSize: 128 * KiB,
  resumableTotalChunks: 2, resumableIdentifier: 'acc', resumableFilename: 'a.bin', ...o,
});

// Sends only the head of a 64 MiB POST and waits (bounded) for the reply: a refusal must come before
// any body byte.
function headOnly(port, user) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const timer = setTimeout(() => { socket.destroy(); resolve('no reply within 5 s'); }, 5000);
    socket.on('connect', () => socket.write(`POST /upload?${q({ resumableChunkSize: 67108864, resumableCurrentChunkSize: 67108864, resumableTotalSize: 67108864, resumableTotalChunks: 1 })} HTTP/1.1\r\nHost: x\r\n` +
      `${user ? `X-Test-User: ${user}\r\n` : ''}Content-Type: application/octet-stream\r\nContent-Length: 67108864\r\n\r\n`));
    socket.on('data', (d) => { reply += d; if (reply.includes('}')) { clearTimeout(timer); socket.destroy(); resolve(reply); } });
    socket.on('error', () => {});
  });
}

test('restricted mounts refuse anonymous and wrong-role requests before a byte is written', async () => {
  const figures = { refusals: 0 };
  const cases = [
    [staffServer, undefined, 401, 'unauthenticated'], [staffServer, 'alice', 403, 'forbidden'],
    [loginServer, undefined, 401, 'unauthenticated'], [loginServer, '', 401, 'unauthenticated'],
  ];
  for (const [server, user, status, code] of cases) {
    const h = user !== undefined ? { 'X-Test-User': user } : {};
    for (const [method, path, b] of [['POST', `/upload?${q()}`, body], ['PUT', `/upload?${q()}`, body], ['GET', `/upload?${q()}`], ['GET', '/upload/status?identifier=acc'], ['DELETE', '/upload?identifier=acc']]) {
      const r = await http(server.url + path, { method, headers: h, body: b });
      assert.equal(r.status, status, `${method} ${path} as ${user}: ${r.text}`);
      assert.equal(r.json.error, code);
      figures.refusals++;
    }
    const early = await headOnly(server.port, user);
    assert.match(early, new RegExp(`^HTTP/1\\.1 ${status} `), 'refused before the body was sent');
    figures.refusals++;
  }
  // A staff principal passes.
  const ok = await http(`${staffServer.url}/upload?${q()}`, { method: 'POST', headers: { 'X-Test-User': 'root;staff' }, body });
  assert.equal(ok.status, 200, ok.text);
  // Nothing but the staff upload was written.
  assert.equal(listTree(join(dir, 'staff', 'chunks')).filter((p) => p.endsWith('/')).length, 1);
  assert.deepEqual(listTree(join(dir, 'login', 'chunks')), []);
  assert.deepEqual(listTree(join(dir, 'login', 'files')), []);
  reportFigures('access.restricted', figures);
});

test('uploads, status, test GETs, cancels and tokens are invisible across principals', async () => {
  const s = loginServer;
  const as = (user) => ({ 'X-Test-User': user });
  const a1 = await http(`${s.url}/upload?${q()}`, { method: 'POST', headers: as('alice'), body });
  assert.equal(a1.status, 200);
  // Bob sees nothing of alice's upload with the same identifier.
  assert.equal((await http(`${s.url}/upload/status?identifier=acc`, { headers: as('bob') })).status, 404);
  assert.equal((await http(`${s.url}/upload?${q()}`, { headers: as('bob') })).status, 204);
  assert.equal((await http(`${s.url}/upload?identifier=acc`, { method: 'DELETE', headers: as('bob') })).status, 204);
  const still = await http(`${s.url}/upload/status?identifier=acc`, { headers: as('alice') });
  assert.equal(still.json.status, 'partial', 'bob\'s cancel did not touch alice\'s upload');
  // Bob's own upload with the same identifier and other bytes is separate.
  const bobBody = Buffer.alloc(64 * KiB, 9);
  assert.equal((await http(`${s.url}/upload?${q()}`, { method: 'POST', headers: as('bob'), body: bobBody })).status, 200);
  const bobDone = await http(`${s.url}/upload?${q({ resumableChunkNumber: 2 })}`, { method: 'POST', headers: as('bob'), body: bobBody });
  const aliceDone = await http(`${s.url}/upload?${q({ resumableChunkNumber: 2 })}`, { method: 'POST', headers: as('alice'), body });
  assert.equal(bobDone.json.status, 'complete');
  assert.equal(aliceDone.json.status, 'complete');
  assert.notEqual(bobDone.json.token, aliceDone.json.token);
  assert.notEqual(bobDone.json.fileDigest, aliceDone.json.fileDigest);
  // Tokens: nobody claims another's, a claim works once.
  assert.equal((await claim(s.url, aliceDone.json.token, 'bob')).status, 404);
  assert.equal((await claim(s.url, aliceDone.json.token, '')).status, 404);
  const mine = await claim(s.url, aliceDone.json.token, 'alice');
  assert.equal(mine.status, 200);
  assert.equal((await claim(s.url, aliceDone.json.token, 'alice')).status, 404, 'a token is used once');
  assert.equal((await claim(s.url, bobDone.json.token, 'bob')).status, 200);
  // A finished upload's final result is shown to its owner only.
  assert.equal((await http(`${s.url}/upload/status?identifier=acc`, { headers: as('mallory') })).status, 404);
});
