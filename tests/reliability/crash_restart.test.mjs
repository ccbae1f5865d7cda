// Crash and restart: uploads run while the server is killed with SIGKILL at random moments (after a
// random number of chunk replies plus a random delay, so kills land mid-body, mid-record, mid-release
// and between requests), at least 20 times; each time it is restarted on the same data directory and
// the clients resume (one status request, then what is missing). Every file must complete
// byte-identical, and once all are claimed and a collection has run, no upload record, partial file,
// temporary file or unclaimed file may remain. The server runs durable (fdatasync), as deployed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  MiB, KiB, b2sum256, claim, collect, hashFile, listTree, reportFigures, rmSync, rng, scratchDir, sleep, startServer,
  uploadFile, writeRandomFile,
} from './support.mjs';

const SEED = Number(process.env.RESUMABLE_CRASH_SEED ?? 7331);
const MIN_KILLS = Number(process.env.RESUMABLE_CRASH_KILLS ?? 24);
const random = rng(SEED);
const SERVER_ARGS = ['--durable', '1', '--threads', '16', '--request-timeout-ms', '10000', '--stale-after-s', '0', '--max-uploads-per-principal', '64'];

let dir, dataDir;
const state = { server: null };

before(async () => {
  dir = scratchDir('crash');
  dataDir = join(dir, 'data');
  state.server = await startServer({ dataDir, args: SERVER_ARGS });
});

after(async () => {
  await state.server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test(`SIGKILL at random moments (>= ${MIN_KILLS} kills): every upload resumes and ends identical, nothing is orphaned`, { timeout: 1500000 }, async () => {
  const sizes = [1, 100 * KiB + 3, MiB + 7, 3 * MiB, 5 * MiB + 11, 12 * MiB, 24 * MiB + 3, 9 * MiB + 1];
  const chunkSizes = [64 * KiB, 128 * KiB, 256 * KiB];
  let replies = 0;
  let kills = 0;
  const killLog = [];
  const started = Date.now();
  const completed = [];
  let uploadsStarted = 0;
  let requests = 0;
  let networkErrors = 0;

  for (let round = 0; round < 12 && kills < MIN_KILLS; round++) {
    const files = [];
    for (const [i, size] of sizes.entries()) {
      const path = join(dir, `r${round}-${i}.bin`);
      writeRandomFile(path, size);
      const chunkSize = chunkSizes[(i + round) % chunkSizes.length];
      files.push({ path, size, chunkSize, identifier: `crash-r${round}-${i}`, hashes: await hashFile(path, chunkSize), multipart: (i + round) % 4 === 1 });
    }
    let done = false;
    const uploads = Promise.all(files.map(async (f) => {
      uploadsStarted++;
      const r = await uploadFile({
        base: () => state.server.url, path: f.path, identifier: f.identifier, chunkSize: f.chunkSize, hashes: f.hashes,
        parallel: 2, multipart: f.multipart, idleTimeout: 8000, maxAttemptsPerChunk: 400, retryDelay: 15,
        onReply: (reply) => { if (reply.status === 200) replies++; },
      });
      completed.push({ f, ...r });
      requests += r.stats.requests;
      networkErrors += r.stats.networkErrors;
    })).finally(() => { done = true; });

    // The killer: after a random number of successful replies and a random delay, SIGKILL and restart.
    while (!done && kills < MIN_KILLS * 2) {
      const target = replies + random.int(1, 30);
      const waitUntil = Date.now() + 20000;
      while (!done && replies < target && Date.now() < waitUntil) await sleep(2);
      if (done) break;
      await sleep(random.int(0, 25));
      const victim = state.server;
      await victim.kill();
      kills++;
      killLog.push(replies);
      state.server = await startServer({ dataDir, args: SERVER_ARGS });
    }
    await uploads;
  }

  const seconds = (Date.now() - started) / 1000;
  assert.ok(kills >= MIN_KILLS, `the server was killed ${kills} times`);

  // A clean restart, then every file is claimed and compared with the original.
  await state.server.stop();
  state.server = await startServer({ dataDir, args: SERVER_ARGS });
  let identical = 0;
  const claimedPaths = [];
  for (const { f, final } of completed) {
    const status = await claim(state.server.url, final.token);
    assert.equal(status.status, 200, `claim ${f.identifier}: ${status.text}`);
    assert.equal(b2sum256(status.json.path), b2sum256(f.path), `${f.identifier} is byte-identical`);
    identical++;
    claimedPaths.push(status.json.path);
    rmSync(f.path);
  }
  // What remains before and after a collection (stale_after = 0: every unfinished upload goes).
  const beforeCollect = listTree(join(dataDir, 'chunks'));
  const report = await collect(state.server.url);
  assert.equal(report.status, 200);
  const afterCollect = listTree(join(dataDir, 'chunks'));
  const files = listTree(join(dataDir, 'files'));
  reportFigures('crash.sigkill', {
    seed: SEED, kills, uploads: uploadsStarted, identical, seconds: +seconds.toFixed(1), chunkRequests: requests,
    clientNetworkErrors: networkErrors, leftBeforeCollect: beforeCollect.length, collected: report.json,
    leftAfterCollect: afterCollect.length, releasedFiles: files.length,
  });
  assert.equal(identical, completed.length);
  assert.equal(completed.length, uploadsStarted);
  assert.deepEqual(afterCollect, [], 'no upload record or partial file remains after collection');
  assert.equal(files.length, claimedPaths.length, `only the claimed files are in upload_to: ${files}`);
  assert.ok(files.every((name) => /^[0-9a-f]{32}(\.[a-z0-9]+)?$/.test(name)), `no temporary files: ${files}`);
});
