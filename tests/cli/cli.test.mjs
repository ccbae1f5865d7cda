// The `resumable` command against the real test server (tests/support/test_server.cpp) on
// 127.0.0.1: resume after SIGINT (chunks counted on the server), a file changed between runs,
// refusals and their exit codes, the progress display on a pseudo-terminal and off it, the status,
// cancel and digest verbs, and the identifier it shares with the widget. About 10 s.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { openSync, writeSync, closeSync, utimesSync } from 'node:fs';
import {
  MiB, claim, http, referenceDigest, rmSync, scratchDir, sleep, startServer, statSync, writeRandomFile, writeFileSync,
} from '../reliability/support.mjs';
import { CLI, chunkPosts, jsonLines, runCli, startCli } from './cli_support.mjs';

const USER = ['--header', 'X-Test-User: alice'];
let dir, server, endpoint;

before(async () => {
  dir = scratchDir('cli');
  server = await startServer({
    dataDir: join(dir, 'data'),
    args: ['--durable', '0', '--max-file-size', String(80 * MiB), '--allowed-extensions', 'bin,dat'],
  });
  endpoint = `${server.url}/upload`;
});

after(async () => {
  const code = await server?.stop();
  rmSync(dir, { recursive: true, force: true });
  assert.equal(code, 0, 'the server exits cleanly on SIGTERM');
});

function cmp(a, b) {
  execFileSync('cmp', [a, b]);  // throws when they differ
}

// Starts an upload slowed down to about 2 s, SIGINTs it once the server has received half of its
// chunks, and returns the interrupted run's JSON line.
async function uploadInterruptedAtHalf(path, chunks, { on = server, auth = USER } = {}) {
  const before = await chunkPosts(on.url);
  const run = startCli(['upload', '--json', '--chunk-size', '1MiB', '--limit-rate', '24MiB', ...auth, path, `${on.url}/upload`]);
  const deadline = Date.now() + 30000;
  while ((await chunkPosts(on.url)) - before < chunks / 2) {
    assert.ok(Date.now() < deadline, `the upload did not reach half: ${run.stderr()}`);
    await sleep(10);
  }
  run.child.kill('SIGINT');
  const result = await run.done;
  assert.equal(result.code, 130, `an interrupted upload exits with 130: ${result.stderr}`);
  const [line] = jsonLines(result.stdout);
  assert.equal(line.status, 'interrupted');
  assert.match(result.stderr, /interrupted: run the same command again to resume/);
  return line;
}

async function status(path) {
  const result = await runCli(['status', '--json', '--chunk-size', '1MiB', ...USER, endpoint, path]);
  assert.equal(result.code, 0, result.stderr);
  return jsonLines(result.stdout)[0];
}

test('an upload interrupted at 50 % resumes: the second run sends only the missing chunks', async () => {
  const path = join(dir, 'resume.bin');
  writeRandomFile(path, 48 * MiB + 12345);
  const chunks = 48;
  const first = await uploadInterruptedAtHalf(path, chunks);
  const held = (await status(path)).chunksHeld;
  assert.ok(held >= chunks / 2 - 3 && held < chunks, `the server holds about half the chunks (${held})`);

  const before = await chunkPosts(server.url, first.identifier);
  const result = await runCli(['upload', '--json', '--chunk-size', '1MiB', ...USER, path, endpoint]);
  assert.equal(result.code, 0, result.stderr);
  const [line] = jsonLines(result.stdout);
  assert.equal(line.identifier, first.identifier, 'the same file gets the same identifier in the next run');
  // A chunk whose body had gone when the command stopped may be stored after the status above.
  assert.ok(line.chunksHeld >= held && line.chunksHeld < chunks, `skips what the server holds (${line.chunksHeld})`);
  assert.equal(line.chunksSent, chunks - line.chunksHeld);
  assert.equal(await chunkPosts(server.url, first.identifier) - before, chunks - line.chunksHeld,
    'counted on the server: only the missing chunks were sent');
  assert.equal(line.fileDigest, referenceDigest(path));
  const claimed = await claim(server.url, line.token);
  assert.equal(claimed.status, 200);
  cmp(claimed.json.path, path);
});

test('on an anonymous mount the scope cookie kept in --cookie-jar lets a later run resume', async () => {
  const anonymous = await startServer({ dataDir: join(dir, 'anonymous-data'), args: ['--durable', '0', '--allow-anonymous'] });
  try {
    const path = join(dir, 'anonymous.bin');
    writeRandomFile(path, 24 * MiB);
    const jar = ['--cookie-jar', join(dir, 'cookies.txt')];
    await uploadInterruptedAtHalf(path, 24, { on: anonymous, auth: jar });
    const result = await runCli(['upload', '--json', '--chunk-size', '1MiB', ...jar, path, `${anonymous.url}/upload`]);
    assert.equal(result.code, 0, result.stderr);
    const [line] = jsonLines(result.stdout);
    assert.ok(line.chunksHeld >= 9, `the second run, in the same scope, found the first run's chunks (${line.chunksHeld})`);
    assert.equal(line.fileDigest, referenceDigest(path));
  } finally {
    await anonymous.stop();
  }
});

test('a file changed between two runs is detected by its digests and uploaded afresh, never mixed', async () => {
  const path = join(dir, 'changed.bin');
  writeRandomFile(path, 40 * MiB);
  const first = await uploadInterruptedAtHalf(path, 40);
  // Change one byte of chunk 2, which the server holds, and keep the modification time, so that the
  // identifier (name, size, time, first chunk) stays the same: only the digests can tell.
  // The time in whole milliseconds (as the identifier takes it), set back to the middle of that millisecond.
  const modifiedMs = Number(statSync(path, { bigint: true }).mtimeNs / 1000000n);
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from([0x5a ^ 0xff]), 0, 1, MiB + 777);
  closeSync(fd);
  utimesSync(path, modifiedMs / 1000, (modifiedMs + 0.5) / 1000);

  const result = await runCli(['upload', '--json', '--chunk-size', '1MiB', ...USER, path, endpoint]);
  assert.equal(result.code, 0, result.stderr);
  const [line] = jsonLines(result.stdout);
  assert.equal(line.identifier, first.identifier);
  assert.equal(line.restarted, true, 'the server copy was deleted and the file sent again');
  assert.match(result.stderr, /the file changed; uploading it afresh/);
  assert.equal(line.chunksSent, 40, 'every chunk of the new bytes was sent');
  assert.equal(line.fileDigest, referenceDigest(path));
  const claimed = await claim(server.url, line.token);
  cmp(claimed.json.path, path);
});

test('refusals end the command with exit code 4 and the server\'s message (401, 413, 415)', async () => {
  const small = join(dir, 'small.bin');
  writeRandomFile(small, 1000);
  const unauthenticated = await runCli(['upload', small, endpoint]);
  assert.equal(unauthenticated.code, 4);
  assert.match(unauthenticated.stderr, /no accepted credentials.*\(HTTP 401, unauthenticated\)/);

  const large = join(dir, 'large.bin');
  writeRandomFile(large, 81 * MiB);
  const tooLarge = await runCli(['upload', ...USER, large, endpoint]);
  assert.equal(tooLarge.code, 4);
  assert.match(tooLarge.stderr, /\(HTTP 413, file_too_large\)/);
  assert.match(tooLarge.stderr, /maximum file size/i);

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'plain text');
  const refusedType = await runCli(['upload', '--json', ...USER, text, endpoint]);
  assert.equal(refusedType.code, 4);
  assert.match(refusedType.stderr, /\(HTTP 415, type_not_allowed\)/);
  assert.equal(jsonLines(refusedType.stdout)[0].error.code, 'type_not_allowed');

  const usage = await runCli(['upload', small]);
  assert.equal(usage.code, 2, 'a usage error is 2');
  const unreadable = await runCli(['upload', ...USER, join(dir, 'missing.bin'), endpoint]);
  assert.equal(unreadable.code, 1, 'a file that cannot be read is 1');
});

test('the progress display is one line rewritten in place on a terminal, plain lines otherwise', async () => {
  const path = join(dir, 'progress.bin');
  writeRandomFile(path, 12 * MiB);
  const quote = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const command = [CLI, 'upload', '--chunk-size', '1MiB', '--limit-rate', '12MiB', ...USER, path, endpoint].map(quote).join(' ');
  // script(1) runs the command on a pseudo-terminal and copies what it writes there.
  const terminal = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 60000 });
  const redraws = terminal.split('\r').filter((piece) => /progress\.bin {2}[\d.]+ \w+ \/ 12\.0 MiB {2}\d+%/.test(piece));
  assert.ok(redraws.length >= 3, `several in-place redraws on a terminal: ${JSON.stringify(terminal.slice(0, 400))}`);
  assert.ok(terminal.includes('\x1b[K'), 'each redraw erases the rest of the line');
  assert.match(terminal, /MiB\/s {2}\d+:\d\d left/, 'speed and time left');
  assert.match(terminal, /12\.0 MiB \/ 12\.0 MiB {2}100%.*done/);

  await runCli(['cancel', '--chunk-size', '1MiB', ...USER, endpoint, path]);
  const plain = await runCli(['upload', '--chunk-size', '1MiB', '--limit-rate', '12MiB', '--progress-interval', '200ms',
    ...USER, path, endpoint]);
  assert.equal(plain.code, 0, plain.stderr);
  assert.ok(!plain.stderr.includes('\r') && !plain.stderr.includes('\x1b'), 'no terminal controls in a log');
  const lines = plain.stderr.trim().split('\n');
  assert.ok(lines.length >= 3, `periodic plain lines: ${plain.stderr}`);
  assert.match(lines.at(-1), /12\.0 MiB \/ 12\.0 MiB {2}100%.*done$/);
  assert.match(plain.stdout, /progress\.bin: OK [0-9a-f]{64} token [0-9a-f]{64}\n/);

  await runCli(['cancel', '--chunk-size', '1MiB', ...USER, endpoint, path]);
  const quiet = await runCli(['upload', '--quiet', ...USER, path, endpoint]);
  assert.equal(quiet.code, 0);
  assert.equal(quiet.stderr, '', '--quiet shows nothing but errors');
});

test('status and cancel verbs say what the server holds and delete it; digest prints what resumable-digest prints', async () => {
  const path = join(dir, 'verbs.dat');
  writeRandomFile(path, 3 * MiB + 5);
  assert.equal((await status(path)).status, 'absent');
  const upload = await runCli(['upload', '--json', '--chunk-size', '1MiB', ...USER, path, endpoint]);
  assert.equal(upload.code, 0, upload.stderr);
  const done = await status(path);
  assert.equal(done.status, 'complete');
  assert.equal(done.token, jsonLines(upload.stdout)[0].token);
  const cancelled = await runCli(['cancel', '--chunk-size', '1MiB', ...USER, endpoint, path]);
  assert.equal(cancelled.code, 0, cancelled.stderr);
  assert.match(cancelled.stdout, /verbs\.dat: cancelled/);
  assert.equal((await status(path)).status, 'absent', 'an unclaimed finished upload is gone after cancel');

  const digest = await runCli(['digest', path]);
  assert.equal(digest.code, 0);
  assert.equal(digest.stdout, `${referenceDigest(path)}  ${path}\n`);
  const help = await runCli(['upload', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes:[\s\S]*4 +refused by the server/);
});

test('the identifier is the widget\'s: the same file finds the same upload from either client', async () => {
  // widget/resumable-hash-worker.js identifierFor: BLAKE2b-256 of JSON.stringify([version, name,
  // size, lastModified, chunkSize, forceChunkSize, first chunk's digest]), computed here with b2sum
  // and the Python reference's hashing, not with our code.
  const path = join(dir, 'same-as-widget.bin');
  writeRandomFile(path, 2 * MiB + 3);
  const chunkDigest = execFileSync('python3', ['-c', `
import hashlib, sys
L = 1 << 20
data = open(sys.argv[1], 'rb').read(4 << 20)
leaves = b''.join(hashlib.blake2b(data[i:i + L], digest_size=32, person=b'rsm-leaf-v1').digest() for i in range(0, len(data), L))
print(hashlib.blake2b(leaves, digest_size=32, person=b'rsm-chunk-v1').hexdigest())
`, path], { encoding: 'utf8' }).trim();
  const { size, mtimeMs } = statSync(path);
  const description = JSON.stringify(['resumable-widget/2', 'same-as-widget.bin', size, Math.floor(mtimeMs), 4 * MiB, false, chunkDigest]);
  const hex = execFileSync('b2sum', ['-l', '256'], { input: description, encoding: 'utf8' }).split(' ')[0];
  const result = await runCli(['status', '--json', ...USER, endpoint, path]);
  assert.equal(jsonLines(result.stdout)[0].identifier, `${size}-${hex.slice(0, 40)}`);
});
