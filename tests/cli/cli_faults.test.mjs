// A 512 MiB upload by the `resumable` command through the fault-injecting proxy
// (tests/reliability/fault_proxy.mjs): a quarter of the chunk requests are dropped, reset, stalled
// (briefly, or past the command's stall timeout), truncated (request or reply) or get a flipped
// byte. The stored file must be byte-identical to the source, the printed digest equal to
// `resumable digest` of the source, and every flipped chunk refused. The fault schedule is a
// function of RESUMABLE_CLI_FAULT_SEED and each connection's number only, so a run repeats.
// A sparse source (4 KiB marks every MiB) keeps it cheap on disk; about 20 s on two cores.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { FaultProxy } from '../reliability/fault_proxy.mjs';
import {
  MiB, claim, reportFigures, rmSync, rng, scratchDir, startServer, writeMarkedSparseFile,
} from '../reliability/support.mjs';
import { jsonLines, runCli } from './cli_support.mjs';

const SEED = Number(process.env.RESUMABLE_CLI_FAULT_SEED ?? 20261201);
const SIZE = 512 * MiB + 4321;
const FAULT_RATE = 0.25;
const FAULTS = ['drop', 'reset', 'stall', 'stall-abort', 'truncate', 'truncate-response', 'flip', 'flip'];

let dir, server, proxy;
after(async () => {
  await proxy?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Numbers of their own for connection `index`: the seed and the index mixed (xorshift seeds that
// differ in a few bits start out alike), a few draws skipped.
function connectionRandom(index) {
  const random = rng((Math.imul(index + 1, 0x9e3779b1) ^ SEED) >>> 0);
  for (let i = 0; i < 4; i++) random();
  return random;
}

test('512 MiB through drops, stalls and flipped bytes: stored byte-identical, digest as `resumable digest`', async () => {
  const started = Date.now();
  dir = scratchDir('cli-faults');
  server = await startServer({ dataDir: join(dir, 'data'), args: ['--durable', '0', '--request-timeout-ms', '20000'] });
  proxy = await new FaultProxy({
    target: () => server.port,
    randomFor: connectionRandom,
    decide: (info, index, random) => (random() < FAULT_RATE ? FAULTS[Math.floor(random() * FAULTS.length)] : null),
    stallMs: [20, 300],
    stallAbortMs: 2500,
  }).listen();
  const path = join(dir, 'capture.bin');
  writeMarkedSparseFile(path, SIZE, SEED);

  const result = await runCli(['upload', '--json', '--quiet', '--chunk-size', '4MiB', '--parallel', '3',
    '--stall-timeout', '1s', '--retry-delay', '20ms', '--max-retry-delay', '200ms', '--header', 'X-Test-User: alice',
    path, `${proxy.url}/upload`], { timeout: 240000 });
  const uploadSeconds = (Date.now() - started) / 1000;
  assert.equal(result.code, 0, `exit code ${result.code}: ${result.stderr}`);
  const [line] = jsonLines(result.stdout);

  const injected = proxy.injected();
  for (const fault of ['drop', 'reset', 'stall', 'stall-abort', 'truncate', 'truncate-response', 'flip']) {
    assert.ok(injected[fault] >= 1, `the schedule injected at least one ${fault}: ${JSON.stringify(injected)}`);
  }
  const flips = proxy.records.filter((r) => r.fault === 'flip');
  for (const r of flips) {
    assert.ok(r.error === 'chunk_digest_mismatch' || r.duplicate || r.replyStatus === 'complete',
      `a flipped chunk (${r.chunk}) was refused, never stored: ${JSON.stringify(r)}`);
  }

  const digest = await runCli(['digest', path]);
  assert.equal(line.fileDigest, digest.stdout.split(' ')[0], 'the printed digest is `resumable digest` of the source');
  const claimed = await claim(server.url, line.token);
  assert.equal(claimed.status, 200);
  assert.equal(claimed.json.fileDigest, line.fileDigest);
  execFileSync('cmp', [claimed.json.path, path]);  // byte-identical (throws otherwise)

  reportFigures('cli.faults', {
    seed: SEED, bytes: SIZE, seconds: (Date.now() - started) / 1000, uploadSeconds,
    requests: proxy.records.length, injected, chunksSent: line.chunksSent,
  });
});
