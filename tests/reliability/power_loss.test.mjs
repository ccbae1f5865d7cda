// Power loss: the server runs with tests/support/power_loss_shim.c preloaded, which journals every
// change it makes below its data directory (bytes, sizes, syncs, directory entries). At a crash point
// the power "fails": the server dies at an operation boundary, and power_loss.mjs rebuilds the data
// directory as a power loss leaves it (file bytes as of their last fsync/fdatasync, directory
// entries as of their directory's last fsync, renames atomic; 'strict': nothing else survives,
// 'torn': some un-synced blocks, sizes and entry changes survive too). The real server is restarted
// on that rebuilt directory and checked over HTTP and on disk:
//   durable on (the default): every chunk whose 200 reply the client received is reported stored
//   with its digest; every record in pieces.log is backed by the right bytes; an upload whose final
//   result the client received is complete with the same token; every released and every claimed
//   file is byte-identical to its source; claimed uploads stay claimed (a claim the cut interrupted
//   is done or not, never half); the server logs no failure; every upload finishes and is claimed.
//   durable off: what is lost is counted and reported (acknowledged chunks and final results gone,
//   records without their bytes, releases discarded, corrupt or stuck); after a 'strict' cut the
//   directory is exactly what the server started with, and some acknowledged chunk must be lost
//   over the run (so the test tells durable from not durable). Uploads finish after calm restarts.
// Crash points (seeded): a signal after a random number of acknowledged chunks (plus a random
// delay); the N-th journaled operation (all kinds, renames, syncs, writes); right after the N-th
// append to pieces.log (before its fdatasync), and after a torn record a second cut before that
// upload completes; during start-up (loading, finishing releases); after some claims or inside one
// (the N-th unlink or rename). Rounds of four uploads: chunks sent out of order, three at a time,
// with and without a declared file digest, one of a single chunk; releases and claims. Every cut
// also checks the shim: its model of the directory before the cut must equal the real directory.
// RESUMABLE_POWER_SEED, RESUMABLE_POWER_CUTS (durable, default 24), RESUMABLE_POWER_CUTS_OFF (8),
// RESUMABLE_POWER_DEBUG=1 (each cut, each status, each complaint as a test diagnostic).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  KiB, MiB, chunkSpan, hashFile, http, reportFigures, rng, scratchDir, sleep, startServer, wasmCore, writeRandomFile,
} from './support.mjs';
import { PowerModel, compareWithDisk, readJournal, snapshotTree, writeImage } from './power_loss.mjs';

const SEED = Number(process.env.RESUMABLE_POWER_SEED ?? 20261201);
const CUTS_DURABLE = Number(process.env.RESUMABLE_POWER_CUTS ?? 24);
const CUTS_NOT_DURABLE = Number(process.env.RESUMABLE_POWER_CUTS_OFF ?? 8);
const SHIM = process.env.RESUMABLE_POWER_LOSS_SHIM;
const SERVER = process.env.RESUMABLE_RELIABILITY_SERVER_BIN;
const USER = 'pat';
const MAX_CUTS_PER_ROUND = 10;
const EPOCH_SECONDS = 30;  // an upload phase that takes longer is stuck

const serverArgs = (durable) => [
  '--durable', durable ? '1' : '0', '--threads', '16', '--request-timeout-ms', '10000',
  '--max-uploads-per-principal', '64',
];

// The server under the shim, once it listens; its url is null if the power failed while it
// started (a crash point during start-up: loading uploads, finishing releases).
async function startPowered({ dataDir, journal, durable, cut }) {
  const env = {
    LD_PRELOAD: SHIM, RESUMABLE_POWER_ROOT: dataDir, RESUMABLE_POWER_JOURNAL: journal,
  };
  if (cut?.kind === 'ops') {
    env.RESUMABLE_POWER_CUT_AFTER = String(cut.n);
    if (cut.kinds) env.RESUMABLE_POWER_CUT_KINDS = cut.kinds;
    if (cut.name) env.RESUMABLE_POWER_CUT_NAME = cut.name;
  }
  return startServer({ dataDir, args: serverArgs(durable), env, mayDieStarting: true });
}

// The power fails now (the shim cuts at the next operation boundary); resolves once the process is gone.
async function cutPower(server) {
  if (server.alive()) server.child.kill('SIGUSR2');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10000);
  await server.exited;
  clearTimeout(timer);
  assert.equal(server.child.signalCode, 'SIGKILL', `the server ended by the power cut, not ${server.child.exitCode}: ${server.output().slice(-2000)}`);
}

async function crashProcess(server) {  // a process crash without power loss (calm epochs)
  if (server.alive()) server.child.kill('SIGKILL');
  await server.exited;
}

// ---- what lies on disk -------------------------------------------------------------------------

function readJson(path) {
  try { return JSON.parse(readFileSync(path, 'utf8')); } catch { return null; }
}

// identifier -> {uploadId, final, location}, from the manifests and final records in chunks/.
function uploadsOnDisk(dataDir) {
  const out = new Map();
  const chunks = join(dataDir, 'chunks');
  if (!existsSync(chunks)) return out;
  for (const id of readdirSync(chunks)) {
    const manifest = readJson(join(chunks, id, 'manifest.json'));
    if (!manifest) continue;
    const final = readJson(join(chunks, id, 'final.json'));
    out.set(manifest.identifier, { uploadId: id, final, location: final?.location });
  }
  return out;
}

// Every valid record of every pieces.log in the image, checked against the source's bytes.
async function recordsAgainstData(dataDir, byIdentifier) {
  const core = await wasmCore();
  const result = { records: 0, damaged: 0, damage: [], tornTails: 0, torn: [] };
  const chunks = join(dataDir, 'chunks');
  if (!existsSync(chunks)) return result;
  for (const id of readdirSync(chunks)) {
    const dir = join(chunks, id);
    const manifest = readJson(join(dir, 'manifest.json'));
    const f = manifest && byIdentifier.get(manifest.identifier);
    if (!f || !existsSync(join(dir, 'pieces.log'))) continue;
    const log = readFileSync(join(dir, 'pieces.log'));
    const data = existsSync(join(dir, 'data')) ? readFileSync(join(dir, 'data')) : null;
    if (!data) continue;  // released: checked as a released file
    for (let at = 0; at < log.length; at += 56) {
      const record = log.subarray(at, at + 56);
      const check = record.length === 56 && core.hashBytes(record.subarray(0, 48)).subarray(0, 8);
      if (!check || !Buffer.from(check).equals(record.subarray(48, 56))) {  // the server stops here too
        result.tornTails++;
        result.torn.push(f);
        break;
      }
      const offset = Number(record.readBigUInt64LE(0));
      const size = Number(record.readBigUInt64LE(8));
      result.records++;
      const stored = data.subarray(offset, offset + size);
      if (!stored.equals(f.bytes.subarray(offset, offset + size))) {
        result.damaged++;
        result.damage.push(`${f.identifier} @${offset}+${size}`);
      }
    }
  }
  return result;
}

// ---- the client ----------------------------------------------------------------------------------

async function makeRound(dir, round) {
  const specs = [
    { size: MiB + 3, chunkSize: 64 * KiB, fileDigest: true },
    { size: 700 * KiB + 1, chunkSize: 64 * KiB, fileDigest: false },  // the release trusts the server's own hash
    { size: 2 * MiB - 5, chunkSize: 128 * KiB, fileDigest: true },
    { size: 5, chunkSize: 64 * KiB, fileDigest: true },  // one chunk: stored and released in one request
  ];
  const files = [];
  for (const [i, spec] of specs.entries()) {
    const path = join(dir, `src-r${round}-${i}.bin`);
    writeRandomFile(path, spec.size);
    files.push({
      ...spec, path, bytes: readFileSync(path), identifier: `power-r${round}-${i}`, fileName: `f${i}.bin`,
      hashes: await hashFile(path, spec.chunkSize),
      acked: new Set(), final: null, serverComplete: null, claimedPath: null,
    });
  }
  return files;
}

// One status request: {kind: 'complete'|'partial'|'absent', stored: Map(chunk -> digest), json}.
async function status(url, f) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const r = await http(`${url}/upload/status?identifier=${encodeURIComponent(f.identifier)}`, { headers: { 'X-Test-User': USER } });
    if (r.status === 404) return { kind: 'absent', stored: new Map() };
    if (r.status === 200 && r.json?.status === 'complete') return { kind: 'complete', stored: new Map(), json: r.json };
    if (r.status === 200 && r.json?.status === 'partial') {
      const stored = new Map();
      let index = 0;
      for (const [a, b] of r.json.received) for (let k = a; k <= b; k++) stored.set(k, r.json.digests[index++]);
      return { kind: 'partial', stored, json: r.json };
    }
    await sleep(20);
  }
  throw new Error(`${f.identifier}: status kept failing`);
}

// Sends the missing chunks of f in a shuffled order, three at a time, until done or the server is gone.
async function uploadSome(server, f, held, random, tally) {
  const missing = [];
  for (let k = 1; k <= f.hashes.count; k++) if (!held.has(k)) missing.push(k);
  if (missing.length === 0) {
    // A status listed every chunk held without a final result. Since finding 9 was fixed a status
    // request of a fully received upload releases it, so this must not happen with `durable` on
    // (asserted below); sending a chunk again is the older way to finish the release.
    missing.push(f.hashes.count);
    tally.nudges++;
  }
  for (let i = missing.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [missing[i], missing[j]] = [missing[j], missing[i]];
  }
  const common = {
    resumableChunkSize: f.chunkSize, resumableTotalSize: f.size, resumableTotalChunks: f.hashes.count,
    resumableIdentifier: f.identifier, resumableFilename: f.fileName, resumableRelativePath: f.fileName,
  };
  let stop = false;
  const send = async (k) => {
    const span = chunkSpan(f.size, f.chunkSize, f.hashes.count, k);
    const query = new URLSearchParams({ ...common, resumableChunkNumber: k, resumableCurrentChunkSize: span.size, chunkDigest: f.hashes.chunks[k - 1] });
    if (f.fileDigest) query.set('fileDigest', f.hashes.file);
    let failures = 0;
    for (let attempt = 0; attempt < 200 && !stop; attempt++) {
      if (Date.now() > tally.deadline) {
        tally.stuck.push({ f, why: `${f.identifier} chunk ${k}: no progress for ${EPOCH_SECONDS} s` });
        stop = true;
        return;
      }
      tally.requests++;
      const reply = await http(`${server.url}/upload?${query}`, {
        method: 'POST', headers: { 'X-Test-User': USER, 'Content-Type': 'application/octet-stream' },
        body: f.bytes.subarray(span.offset, span.offset + span.size), idleTimeout: 8000,
      });
      if (reply.error) {
        if (!server.alive()) { stop = true; return; }
        await sleep(10);
        continue;
      }
      if (reply.status === 200 && (reply.json?.status === 'chunk_stored' || reply.json?.status === 'complete')) {
        f.acked.add(k);
        tally.acks++;
        tally.acksOf.set(f, (tally.acksOf.get(f) ?? 0) + 1);
        if (reply.json.status === 'complete') {
          f.final = reply.json;
          if (reply.json.fileDigest !== f.hashes.file) tally.finalDigestWrong.push(f.identifier);
        }
        return;
      }
      if (reply.json?.error === 'file_digest_mismatch' || reply.json?.error === 'upload_not_found') {
        tally.discarded.push(`${f.identifier}: ${reply.json.error}`);
        f.acked.clear();
        f.final = null;
        stop = true;
        return;
      }
      if (reply.json?.retryable === false) throw new Error(`${f.identifier} chunk ${k}: ${reply.status} ${reply.text}`);
      if (reply.status >= 500 && reply.status !== 503 && ++failures >= 10) {
        tally.stuck.push({ f, why: `${f.identifier} chunk ${k}: ${reply.status} ${reply.json?.error} ${failures} times` });
        stop = true;
        return;
      }
      await sleep(15);
    }
  };
  let next = 0;
  const worker = async () => { while (!stop && next < missing.length && !f.final) await send(missing[next++]); };
  await Promise.all([worker(), worker(), worker()]);
}

// ---- one campaign: a series of epochs, each ending in a power cut (or, when calm, a plain crash) --

const live = new Set();  // servers still running: killed when a test ends, passed or not
after(async () => { for (const server of live) await crashProcess(server); });

async function campaign({ durable, minCuts, t }) {
  const label = durable ? 'durable' : 'not-durable';
  const dir = scratchDir(`power-${label}`);
  const random = rng(SEED + (durable ? 0 : 7919));
  const started = Date.now();
  const figures = {
    durable, seed: SEED, cuts: 0, cutsStrict: 0, cutsTorn: 0, cutsDuringStart: 0, cutsAfterRoundDone: 0,
    cutPoints: {}, epochs: 0, calmEpochs: 0, rounds: 0, uploads: 0, chunkRequests: 0, acks: 0,
    ackChecks: 0, ackedLost: 0, finalChecks: 0, finalsLost: 0, recordsChecked: 0,
    recordsWithoutTheirBytes: 0, logsWithATornTail: 0, releasedChecks: 0, releasedCorrupt: 0, releasedCorruptUndetected: 0, claimedCorrupt: 0,
    releasesFinishedByARepeatedChunk: 0, claimed: 0, claimsWithLostReply: 0, claimedIdentical: 0, claimsUndone: 0, claimedFilesLost: 0, discardedAtRelease: 0,
    finalDigestWrong: 0, serverComplaints: 0, stuck: 0, cancelledAndSentAgain: 0, journalRecords: 0, journalMiB: 0,
  };
  const trouble = [];  // durable on: every entry fails the test
  const complain = (message) => { if (durable) trouble.push(message); };
  const all = [];
  let round = null;  // {files, index, cuts, claimsDone, verifiedAfterClaims}
  // The data directory keeps its path across cuts (final records name absolute locations in it):
  // each image is written beside it and then takes its place.
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  let tornTailBefore = [];  // uploads whose pieces.log ended in a torn record after the last cut
  const estimate = { all: 10, rename: 0.4, sync: 3, write: 3, acks: 1, samples: { all: 0, rename: 0, sync: 0, write: 0, acks: 0 } };

  for (let epoch = 0; epoch < 80; epoch++) {
    if (!round) {
      if (figures.cuts >= minCuts && figures.rounds >= 2) break;
      const files = await makeRound(dir, figures.rounds);
      all.push(...files);
      figures.uploads += files.length;
      round = { files, index: figures.rounds, cuts: 0, claimsDone: false, verifiedAfterClaims: false };
      figures.rounds++;
    }
    figures.epochs++;
    const calm = !durable && round.cuts >= MAX_CUTS_PER_ROUND / 2 || round.cuts >= MAX_CUTS_PER_ROUND;
    const remaining = round.files.reduce((n, f) => n + (f.final ? 0 : f.hashes.count - f.acked.size), 0);
    const perAck = (k) => Math.max(0.2, estimate.samples.acks > 0 ? estimate.samples[k] / estimate.samples.acks : estimate[k]);
    let cut;
    if (calm) {
      cut = { kind: 'none' };
      figures.calmEpochs++;
    } else {
      const span = Math.max(1, remaining + 2);
      const claiming = !round.claimsDone && round.files.every((f) => f.final || f.claimedPath);
      if (claiming) {
        // Claims next: cut after some of them, or inside one (its directory being deleted).
        const choice = random.pick(['claims', 'unlink', 'unlink', 'rename']);
        if (choice === 'claims') cut = { kind: 'claims', claims: random.int(0, round.files.length) };
        else cut = { kind: 'ops', kinds: choice === 'unlink' ? 'unlink,rmdir' : choice, n: random.int(1, 5 * round.files.length) };
      } else if (tornTailBefore.some((f) => !f.final && f.hashes.count - f.acked.size >= 2)) {
        // The last cut left a torn record at the end of a pieces.log: cut again once some chunks of
        // that upload are acknowledged, before it can complete, so that records appended after a
        // torn one are checked.
        const f = tornTailBefore.find((u) => !u.final && u.hashes.count - u.acked.size >= 2);
        cut = { kind: 'signal', file: f, acks: random.int(1, f.hashes.count - f.acked.size - 1), delay: 0 };
      } else {
        // 'record': right after a chunk's record is appended to pieces.log, before its fdatasync.
        // (durable off syncs nothing: no cut counts syncs there)
        const choice = random.pick(durable ? ['signal', 'signal', 'ops', 'rename', 'sync', 'write', 'record', 'record', 'record']
                                           : ['signal', 'signal', 'ops', 'rename', 'write', 'record']);
        if (choice === 'record') cut = { kind: 'ops', kinds: 'write', name: 'pieces.log', n: random.int(1, span) };
        else if (choice === 'signal') cut = { kind: 'signal', acks: random.int(0, span), delay: random.int(0, 20) };
        else if (choice === 'ops') cut = { kind: 'ops', n: random.int(1, Math.ceil(perAck('all') * span)) };
        else cut = { kind: 'ops', kinds: choice, n: random.int(1, Math.ceil(perAck(choice) * span) + 1) };
      }
      // The first cut of a campaign is strict: what the store creates at its first start must be
      // durable too. A cut right after a record's append is torn: what survives of it is the question.
      cut.mode = figures.cuts === 0 ? 'strict' : cut.name ? 'torn' : random.pick(['strict', 'torn']);
    }
    const baseline = snapshotTree(dataDir);
    const baselineImage = new PowerModel(snapshotTree(dataDir)).image('strict');
    const journal = join(dir, `journal-${epoch}`);
    const server = await startPowered({ dataDir, journal, durable, cut });
    live.add(server);
    server.exited.then(() => live.delete(server));
    const tally = {
      requests: 0, acks: 0, acksOf: new Map(), nudges: 0, discarded: [], finalDigestWrong: [], stuck: [],
      deadline: Date.now() + EPOCH_SECONDS * 1000,
    };
    let cutAt = null;

    if (server.url) {
      // Check everything against what the clients were told before the cut.
      for (const f of all) {
        if (!server.alive()) break;
        const s = await status(server.url, f).catch((e) => { if (server.alive()) throw e; return null; });
        if (!s) break;
        if (process.env.RESUMABLE_POWER_DEBUG) t.diagnostic(`  ${f.identifier}: ${s.kind} ${s.stored.size} held, ${f.acked.size} acked, final ${!!f.final}, claimed ${!!f.claimedPath}`);
        if (f.claimInFlight) {
          // The power failed during this upload's claim: the claim took effect (its reply was lost)
          // or it did not; anything in between is a half-removed upload.
          f.claimInFlight = false;
          if (s.kind === 'absent') {
            f.claimedPath = f.location;
            figures.claimsWithLostReply++;
            figures.claimed++;
            if (existsSync(f.claimedPath) && readFileSync(f.claimedPath).equals(f.bytes)) figures.claimedIdentical++;
            else { figures.claimedCorrupt++; complain(`${f.identifier}: the claimed file differs from its source`); }
          } else if (s.kind === 'partial') {
            complain(`${f.identifier}: a claim cut short left the upload half removed (${s.stored.size} chunks held, no final result)`);
          }
        }
        if (f.claimedPath) {
          if (s.kind !== 'absent') { figures.claimsUndone++; complain(`${f.identifier}: claimed, but the server has it again (${s.kind})`); }
          if (!existsSync(f.claimedPath) || !readFileSync(f.claimedPath).equals(f.bytes)) {
            figures.claimedFilesLost++;
            complain(`${f.identifier}: the claimed file ${f.claimedPath} is gone or differs`);
          }
          continue;
        }
        if (s.kind === 'complete') {
          if (f.final && s.json.token !== f.final.token) complain(`${f.identifier}: token changed after the cut`);
          if (f.final) figures.finalChecks++;
          f.final = s.json;
          f.serverComplete = s.json;
          figures.ackChecks += f.acked.size;
          continue;
        }
        f.serverComplete = null;
        if (f.final) {
          figures.finalsLost++;
          complain(`${f.identifier}: the client had the final result, the server now says ${s.kind}`);
          f.final = null;
        }
        for (const k of [...f.acked]) {
          if (s.stored.get(k) === f.hashes.chunks[k - 1]) {
            figures.ackChecks++;
          } else {
            figures.ackedLost++;
            complain(`${f.identifier}: chunk ${k} was acknowledged and is ${s.stored.has(k) ? 'held with another digest' : 'gone'} after the cut`);
            f.acked.delete(k);
          }
        }
        for (const [k, digest] of s.stored) {
          if (digest !== f.hashes.chunks[k - 1]) complain(`${f.identifier}: chunk ${k} held with a foreign digest`);
        }
        f.held = s.stored;
      }
      // Released files (the server finished any interrupted release while it started).
      if (server.alive()) {
        const onDisk = uploadsOnDisk(dataDir);
        for (const f of all) {
          const entry = onDisk.get(f.identifier);
          if (!entry?.location || f.claimedPath || !f.serverComplete) continue;
          f.location = entry.location;
          figures.releasedChecks++;
          const same = existsSync(entry.location) && readFileSync(entry.location).equals(f.bytes);
          if (!same) {
            if (!f.releasedCorrupt) {  // counted once per upload
              f.releasedCorrupt = true;
              figures.releasedCorrupt++;
              if (f.serverComplete.fileDigest === f.hashes.file) figures.releasedCorruptUndetected++;
            }
            complain(`${f.identifier}: the released file ${entry.location} differs from its source`);
          }
        }
      }

      // Then: claims once the whole round is complete, uploads otherwise.
      const allComplete = round.files.every((f) => f.serverComplete || f.claimedPath);
      if (server.alive() && round.claimsDone) {
        round.verifiedAfterClaims = true;
      } else if (server.alive() && allComplete) {
        const cutAfterClaims = cut.kind === 'claims' ? cut.claims : Infinity;
        let claims = 0;
        for (const f of round.files) {
          if (f.claimedPath) continue;
          if (claims === cutAfterClaims) break;
          f.claimInFlight = true;
          const r = await http(`${server.url}/test/claim?token=${encodeURIComponent(f.serverComplete.token)}`, { method: 'POST', headers: { 'X-Test-User': USER } });
          if (r.error) await Promise.race([server.exited, sleep(500)]);
          if (r.error && !server.alive()) break;  // the power failed during the claim
          assert.equal(r.status, 200, `claim ${f.identifier}: ${r.text}`);
          f.claimInFlight = false;
          claims++;
          figures.claimed++;
          f.claimedPath = r.json.path;
          if (existsSync(r.json.path) && readFileSync(r.json.path).equals(f.bytes)) figures.claimedIdentical++;
          else { figures.claimedCorrupt++; complain(`${f.identifier}: the claimed file differs from its source`); }
        }
        if (round.files.every((f) => f.claimedPath)) round.claimsDone = true;
        if (cut.kind === 'claims') cutAt = `after ${claims} claims`;
        else if (cut.kind !== 'ops' || server.alive()) cutAt = 'after the claims';
      } else if (server.alive()) {
        const uploading = round.files.filter((f) => !f.serverComplete && !f.claimedPath);
        let watcher = Promise.resolve();
        let finished = false;
        if (cut.kind === 'signal') {
          const target = cut.acks;
          watcher = (async () => {
            const acks = () => (cut.file ? tally.acksOf.get(cut.file) ?? 0 : tally.acks);
            while (!finished && acks() < target && server.alive()) await sleep(1);
            if (finished || !server.alive()) return;
            await sleep(cut.delay);
            cutAt = `signal after ${acks()} acknowledgements${cut.file ? ` of ${cut.file.identifier} (torn record before)` : ""} + ${cut.delay} ms`;
            server.child.kill('SIGUSR2');
          })();
        }
        await Promise.all(uploading.map((f) => uploadSome(server, f, f.held ?? new Map(), random, tally)));
        finished = true;
        await watcher;
        // Final results a reply did not bring (the last chunk raced another): ask.
        for (const f of uploading) {
          if (!f.final && server.alive()) {
            const s = await status(server.url, f).catch(() => null);
            if (s?.kind === 'complete') f.final = s.json;
          }
        }
        if (!cutAt && round.files.every((f) => f.final || f.claimedPath)) { cutAt = 'after the round completed'; figures.cutsAfterRoundDone++; }
      }
      figures.chunkRequests += tally.requests;
      figures.releasesFinishedByARepeatedChunk += tally.nudges;
      figures.acks += tally.acks;
      figures.discardedAtRelease += tally.discarded.length;
      figures.finalDigestWrong += tally.finalDigestWrong.length;
      for (const d of tally.discarded) complain(`discarded: ${d}`);
      for (const { f, why } of tally.stuck) {
        figures.stuck++;
        complain(`stuck: ${why}`);
        if (!durable && server.alive()) {
          // What a user does with an upload that cannot finish: cancel it and send the file again.
          const r = await http(`${server.url}/upload?identifier=${encodeURIComponent(f.identifier)}`, { method: 'DELETE', headers: { 'X-Test-User': USER } });
          if (r.status === 204) {
            figures.cancelledAndSentAgain++;
            f.acked.clear();
            f.final = null;
            f.held = new Map();
          }
        }
      }
      for (const d of tally.finalDigestWrong) complain(`${d}: the final result's digest is not the file's`);
    } else {
      figures.cutsDuringStart++;
      cutAt = 'during start-up';
    }
    for (const line of server.output().split('\n')) {
      if (/skipping upload|failed/.test(line)) {
        figures.serverComplaints++;
        complain(`server: ${line}`);
        if (process.env.RESUMABLE_POWER_DEBUG) t.diagnostic(`  server: ${line}`);
      }
    }

    // The end of the epoch.
    if (cut.kind === 'none') {
      await crashProcess(server);
      rmSync(journal, { force: true });
      if (round.verifiedAfterClaims) round = null;
      continue;
    }
    if (server.alive()) await cutPower(server);
    else await server.exited;
    if (cut.kind === 'ops' && !cutAt) cutAt = `after operation ${cut.n}${cut.kinds ? ` (${cut.kinds}${cut.name ? ` on ${cut.name}` : ''})` : ''}`;
    figures.cuts++;
    round.cuts++;
    figures[cut.mode === 'strict' ? 'cutsStrict' : 'cutsTorn']++;
    const j = readJournal(journal);
    figures.journalRecords += j.records.length;
    figures.journalMiB += j.bytes / MiB;
    const model = new PowerModel(baseline);
    model.apply(j.records);
    const last = model.last;
    const point = `${cutAt ?? 'unknown'}: last ${last?.type}${last?.name ? ` ${last.name}` : ''}${last?.to !== undefined ? ` ${last.from} -> ${last.to || '(outside)'}` : ''}`;
    const pointKind = `${cut.kind === 'ops' ? `op${cut.kinds ? `:${cut.kinds}` : ''}${cut.name ? `:${cut.name}` : ''}` : cut.kind}/${last?.type}`;
    figures.cutPoints[pointKind] = (figures.cutPoints[pointKind] ?? 0) + 1;
    t.diagnostic(`epoch ${epoch} (${cut.mode}): ${point}; ${tally.acks} acknowledged`);
    // The shim saw everything: its model of the directory before the cut is the real directory.
    const differences = compareWithDisk(model.current(), dataDir);
    assert.deepEqual(differences, [], `the journal misses changes the server made (epoch ${epoch})`);
    // Estimates of operations per acknowledged chunk, to spread the counted cuts over an epoch.
    if (tally.acks > 0) {
      estimate.samples.acks += tally.acks;
      estimate.samples.all += j.records.length;
      estimate.samples.rename += model.counts.rename ?? 0;
      estimate.samples.sync += model.counts.sync ?? 0;
      estimate.samples.write += model.counts.write ?? 0;
    }
    if (process.env.RESUMABLE_POWER_DEBUG) {
      for (const [id, node] of model.inodes) {
        if (node.kind === 'file' && node.pending.length > 0) t.diagnostic(`  unsynced inode ${id}: ${node.pending.length} ops, durable ${node.dur.size} B, now ${node.cur.size} B`);
      }
    }
    const image = model.image(cut.mode, random);
    const next = join(dir, 'next');
    writeImage(image, next);
    rmSync(dataDir, { recursive: true, force: true });
    renameSync(next, dataDir);
    if (!durable && cut.mode === 'strict') {
      // Nothing was synced: the power loss leaves exactly what the server started with.
      assert.deepEqual(compareWithDisk(baselineImage, dataDir), [], 'durable off, strict: the image is the start of the epoch');
    }
    const checked = await recordsAgainstData(dataDir, new Map(all.map((f) => [f.identifier, f])));
    figures.recordsChecked += checked.records;
    figures.recordsWithoutTheirBytes += checked.damaged;
    figures.logsWithATornTail += checked.tornTails;
    tornTailBefore = checked.torn;
    if (process.env.RESUMABLE_POWER_DEBUG) for (const f of checked.torn) t.diagnostic(`  torn record at the end of ${f.identifier}'s pieces.log`);
    for (const d of checked.damage) complain(`a record without its bytes after the cut: ${d}`);
    if (process.env.RESUMABLE_POWER_DEBUG) for (const d of trouble) t.diagnostic(`  trouble: ${d}`);
    rmSync(journal, { force: true });
    if (round.verifiedAfterClaims) round = null;
  }

  figures.seconds = +((Date.now() - started) / 1000).toFixed(1);
  figures.journalMiB = +figures.journalMiB.toFixed(1);
  rmSync(dir, { recursive: true, force: true });
  return { figures, trouble, all };
}

test('power loss with durable on (the default): no acknowledged chunk is lost, no released file is corrupt', { timeout: 600000 }, async (t) => {
  assert.ok(SHIM && existsSync(SHIM), 'RESUMABLE_POWER_LOSS_SHIM names the shim library');
  const { figures, trouble, all } = await campaign({ durable: true, minCuts: CUTS_DURABLE, t });
  reportFigures('power_loss.durable', figures);
  assert.deepEqual(trouble.slice(0, 20), [], `${trouble.length} durability failures`);
  assert.ok(figures.cuts >= CUTS_DURABLE, `${figures.cuts} power cuts`);
  assert.ok(figures.cutsStrict > 0 && figures.cutsTorn > 0, 'both loss models were used');
  assert.ok(figures.ackChecks > 0, 'acknowledged chunks were checked after cuts');
  assert.ok(all.every((f) => f.claimedPath), 'every upload finished and was claimed');
  assert.equal(figures.claimedIdentical, all.length, 'every claimed file is identical to its source');
  assert.equal(figures.releasesFinishedByARepeatedChunk, 0, 'a status request of a fully received upload brings its final result (finding 9)');
});

test('power loss with durable off: what is lost is counted', { timeout: 600000 }, async (t) => {
  assert.ok(SHIM && existsSync(SHIM), 'RESUMABLE_POWER_LOSS_SHIM names the shim library');
  const { figures, all } = await campaign({ durable: false, minCuts: CUTS_NOT_DURABLE, t });
  reportFigures('power_loss.not_durable', figures);
  assert.ok(figures.cuts >= CUTS_NOT_DURABLE, `${figures.cuts} power cuts`);
  // The model does drop what was not synced: without durability, acknowledged work is lost.
  assert.ok(figures.ackedLost + figures.finalsLost > 0, 'durable off lost acknowledged chunks or results');
  assert.ok(all.every((f) => f.claimedPath), 'every upload finished (after calm restarts) and was claimed');
});
