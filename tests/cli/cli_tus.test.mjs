// `resumable upload --protocol tus` against the test server's tus front-end (mounted at /files):
// through the fault proxy (a flipped byte must be caught by Upload-Checksum, answered 460 and sent
// again; a lost reply leads to 409 and a HEAD), stored byte-identical with the digest `resumable
// digest` prints; SIGINT and a second run that resumes from the server's offset (PATCH bytes
// counted on the server: only what was missing, within one chunk); several files at once, one
// stream each; a refusal with its exit code. About 17 s with the server's start and stop.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { FaultProxy } from '../reliability/fault_proxy.mjs';
import { MiB, claim, http, referenceDigest, rmSync, scratchDir, sleep, startServer, writeRandomFile } from '../reliability/support.mjs';
import { jsonLines, runCli, startCli } from './cli_support.mjs';

const USER = ['--header', 'X-Test-User: alice'];
let dir, server, state;

before(async () => {
  dir = scratchDir('cli-tus');
  state = join(dir, 'state', 'uploads.json');
  server = await startServer({
    dataDir: join(dir, 'data'),
    args: ['--durable', '0', '--tus-path', '/files', '--max-file-size', String(80 * MiB), '--request-timeout-ms', '20000'],
  });
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const tusArgs = () => ['--protocol', 'tus', '--state-file', state, '--json', '--quiet', ...USER];

// PATCH requests and bytes the server received for a tus upload (by its URL's last segment).
async function patches(uploadUrl) {
  const id = uploadUrl.split('/').at(-1);
  const reply = await http(`${server.url}/test/stats?identifier=${id}`);
  return { requests: reply.json.patchRequests, bytes: reply.json.patchBytes };
}

// The upload URLs the command keeps in its state file.
function rememberedUrls() {
  return Object.values(JSON.parse(readFileSync(state, 'utf8')).uploads).map((entry) => entry.url);
}

function assertStored(line, path) {
  assert.equal(line.status, 'complete');
  assert.equal(line.digestAlgorithm, 'rsm-tree-v1');
  assert.equal(line.fileDigest, referenceDigest(path), 'the digest is the source\'s (Python reference)');
}

test('tus through drops, stalls, lost replies and flipped bytes: checksums catch the flips, stored byte-identical', async () => {
  const path = join(dir, 'faults.bin');
  const size = 40 * MiB + 12345;
  writeRandomFile(path, size);
  // One fault of each kind at fixed PATCH numbers: the run repeats exactly.
  const schedule = { 2: 'flip', 4: 'drop', 6: 'truncate-response', 8: 'stall', 10: 'reset', 12: 'truncate', 14: 'flip', 16: 'stall-abort' };
  let patchNumber = 0;
  const proxy = await new FaultProxy({
    target: () => server.port,
    decide: () => schedule[++patchNumber] ?? null,
    stallMs: [20, 100],
    stallAbortMs: 2000,
  }).listen();
  try {
    const result = await runCli(['upload', ...tusArgs(), '--chunk-size', '2MiB', '--stall-timeout', '1s',
      '--retry-delay', '20ms', '--max-retry-delay', '100ms', path, `${proxy.url}/files`], { timeout: 60000 });
    assert.equal(result.code, 0, `exit code ${result.code}: ${result.stderr}`);
    const [line] = jsonLines(result.stdout);
    assertStored(line, path);

    const records = proxy.records;
    for (const fault of new Set(Object.values(schedule))) {
      assert.ok(records.some((r) => r.fault === fault), `a ${fault} was injected`);
    }
    const flips = records.filter((r) => r.fault === 'flip');
    assert.equal(flips.length, 2);
    for (const r of flips) {
      assert.equal(r.status, 460, `a flipped PATCH was refused by its checksum: ${JSON.stringify(r)}`);
      assert.equal(r.error, 'chunk_digest_mismatch');
    }
    // The PATCH whose reply was cut: its retry either met 409 (the first one had been stored) or,
    // on a busy machine where the server was still reading it, took it over (tus lock release) and
    // was stored itself; after a 409 a HEAD set the command right. The stored file is checked below.
    const cut = records.findIndex((r) => r.fault === 'truncate-response');
    assert.ok(cut >= 0);
    const after = records.slice(cut + 1);
    const retry = after.findIndex((r) => r.method === 'PATCH' && (r.status === 409 || r.status === 204));
    assert.ok(retry >= 0, 'the PATCH after the lost reply met offset_mismatch or was stored');
    if (after[retry].status === 409) {
      assert.ok(after.slice(retry + 1).some((r) => r.method === 'HEAD'), 'after a 409 the command asked for the offset with HEAD');
    }

    const digest = await runCli(['digest', path]);
    assert.equal(line.fileDigest, digest.stdout.split(' ')[0], 'the printed digest is `resumable digest` of the source');
    const claimed = await claim(server.url, line.token);
    assert.equal(claimed.status, 200);
    execFileSync('cmp', [claimed.json.path, path]);  // byte-identical (throws otherwise)
  } finally {
    await proxy.close();
  }
});

test('tus: SIGINT, then the same command resumes from the server\'s offset and sends only what is missing', async () => {
  const path = join(dir, 'resume.bin');
  const size = 48 * MiB + 777;
  const chunk = MiB;
  writeRandomFile(path, size);
  const args = ['upload', ...tusArgs(), '--chunk-size', '1MiB', path, `${server.url}/files`];
  const known = new Set();
  try { for (const url of rememberedUrls()) known.add(url); } catch { /* no state yet */ }
  const run = startCli([...args, '--limit-rate', '24MiB']);
  let uploadUrl;
  const deadline = Date.now() + 30000;
  for (;;) {
    assert.ok(Date.now() < deadline, `the upload did not reach half: ${run.stderr()}`);
    try { uploadUrl ??= rememberedUrls().find((url) => !known.has(url)); } catch { /* not written yet */ }
    if (uploadUrl && (await patches(uploadUrl)).bytes >= size / 2) break;
    await sleep(10);
  }
  run.child.kill('SIGINT');
  const first = await run.done;
  assert.equal(first.code, 130, `an interrupted upload exits with 130: ${first.stderr}`);
  assert.equal(jsonLines(first.stdout)[0].status, 'interrupted');

  const head = await http(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0', 'X-Test-User': 'alice' } });
  const offset = Number(head.headers['upload-offset']);
  assert.ok(offset >= size / 2 - chunk && offset < size, `the server holds about half (${offset})`);
  assert.equal(offset % chunk, 0, 'with checksums every PATCH is kept whole or not at all');
  const before = await patches(uploadUrl);

  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr);
  const [line] = jsonLines(second.stdout);
  assertStored(line, path);
  // A PATCH whose body had gone through when the command stopped may be stored after the HEAD above.
  assert.ok(line.chunksHeld * chunk >= offset && line.chunksHeld * chunk < size, `the second run skipped what the server held (${line.chunksHeld})`);
  const after = await patches(uploadUrl);
  assert.equal(after.bytes - before.bytes, size - line.chunksHeld * chunk, 'counted on the server: only the missing bytes were sent');
  assert.ok(after.bytes <= size + chunk, `both runs together sent the file once, plus at most one chunk (${after.bytes})`);
  const claimed = await claim(server.url, line.token);
  execFileSync('cmp', [claimed.json.path, path]);
});

test('tus: --parallel uploads several files at once, one stream each', async () => {
  const paths = [1, 2, 3].map((n) => join(dir, `many-${n}.bin`));
  paths.forEach((p, i) => writeRandomFile(p, (2 + i) * MiB + i));
  // Every PATCH is held 200 ms by the proxy, so that the ones in flight together can be counted
  // when each one starts (a record is `answered` once its reply has begun to come back).
  let most = 0;
  let sameUpload = 0;
  const proxy = await new FaultProxy({
    target: () => server.port,
    decide: (info) => {
      const inFlight = proxy.records.filter((r) => r.method === 'PATCH' && !r.answered);
      most = Math.max(most, inFlight.length + 1);
      sameUpload += inFlight.filter((r) => r.path === info.path).length;
      return 'stall';
    },
    stallMs: [200, 200],
  }).listen();
  try {
    const result = await runCli(['upload', ...tusArgs(), '--chunk-size', '1MiB', '--parallel', '2', ...paths, `${proxy.url}/files`]);
    assert.equal(result.code, 0, result.stderr);
    const lines = jsonLines(result.stdout);
    assert.equal(lines.length, 3);
    for (const path of paths) assertStored(lines.find((l) => l.file === path), path);
    assert.equal(most, 2, 'two files were on the wire at once, never more');
    assert.equal(sameUpload, 0, 'one stream per file: a file\'s PATCHes never overlap');
  } finally {
    await proxy.close();
  }
});

test('tus: a refusal (413 at creation) ends the command with exit code 4 and the server\'s message', async () => {
  const large = join(dir, 'large.bin');
  execFileSync('truncate', ['-s', String(81 * MiB), large]);
  const result = await runCli(['upload', ...tusArgs(), large, `${server.url}/files`]);
  assert.equal(result.code, 4, result.stderr);
  assert.match(result.stderr, /maximum file size.*\(HTTP 413, file_too_large\)/i);
  assert.equal(jsonLines(result.stdout)[0].error.code, 'file_too_large');
});
