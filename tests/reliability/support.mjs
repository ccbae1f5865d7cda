// Shared by the reliability tests: start and kill resumable_test_server, hash with the
// WebAssembly core, speak the upload protocol from node (a scripted client with retries), make test
// files, and inspect what the server left on disk. Everything talks to 127.0.0.1 only, and every wait
// is bounded.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync, existsSync, ftruncateSync, mkdtempSync, mkdirSync, openSync, readFileSync, readSync, readdirSync,
  rmSync, statSync, writeFileSync, writeSync, appendFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { randomFillSync } from 'node:crypto';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const MiB = 1048576;
export const KiB = 1024;

export function scratchDir(prefix) {
  return mkdtempSync(join(tmpdir(), `resumable-rel-${prefix}-`));
}

export function artifactsDir() {
  const dir = process.env.RESUMABLE_ARTIFACTS_DIR ?? join(tmpdir(), 'resumable-test-artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// Figures of a run, one JSON line per test in test-artifacts/reliability-figures.jsonl, also printed.
export function reportFigures(name, figures) {
  const line = JSON.stringify({ test: name, at: new Date().toISOString(), ...figures });
  console.log(`FIGURES ${line}`);
  appendFileSync(join(artifactsDir(), 'reliability-figures.jsonl'), `${line}\n`);
}

// The tree digest of a file (docs/digest.md) by the Python reference, which shares no code with the
// server or the wasm core: what a user would run to check a file.
export function referenceDigest(path) {
  const script = new URL('../../tools/resumable_digest.py', import.meta.url).pathname;
  return execFileSync('python3', [script, path], { encoding: 'utf8', maxBuffer: 1 << 20 }).split(' ')[0];
}

// Byte identity of two files (coreutils, no code of ours).
export function b2sum256(path) {
  return execFileSync('b2sum', ['-l', '256', path], { encoding: 'utf8' }).split(' ')[0];
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Deterministic pseudo-random numbers (xorshift32) so that a failing run can be repeated by seed.
export function rng(seed) {
  let x = (seed >>> 0) || 1;
  const next = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));  // inclusive
  next.pick = (list) => list[Math.floor(next() * list.length)];
  return next;
}

// ---- the server ------------------------------------------------------------------------------

// Starts resumable_test_server; resolves once it prints its URL. kill() sends SIGKILL. `env` is
// added to this process's environment (e.g. LD_PRELOAD for the power-loss shim). A server that
// exits before it listens is an error, unless `mayDieStarting` (then `url` is null).
export async function startServer({ dataDir, args = [], port = 0, cwd, env, mayDieStarting = false } = {}) {
  const bin = process.env.RESUMABLE_RELIABILITY_SERVER_BIN;
  if (!bin) throw new Error('RESUMABLE_RELIABILITY_SERVER_BIN must name the reliability server executable');
  const child = spawn(bin, ['--port', String(port), '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], cwd, env: env ? { ...process.env, ...env } : undefined,
  });
  let output = '';
  child.stderr.on('data', (d) => { output += d; if (output.length > 1e6) output = output.slice(-5e5); });
  const exited = once(child, 'exit');
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 20000);
    child.stdout.on('data', (d) => {
      output += d;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1].replace(/\/$/, '')); }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (mayDieStarting) resolve(null);
      else reject(new Error(`server exited with ${code}: ${output}`));
    });
  });
  return {
    url,
    port: url ? Number(new URL(url).port) : null,
    pid: child.pid,
    child,
    exited,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
      const [code, signal] = await exited;
      clearTimeout(timer);
      return code ?? signal;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

// ---- HTTP --------------------------------------------------------------------------------------

// One request on a fresh connection. `body`: Buffer, string, or {path, start, size} streamed from a
// file. Resolves {status, headers, text, json} or {error} (never rejects). `idleTimeout`: abort after
// that long without progress in either direction.
export function http(url, { method = 'GET', headers = {}, body, idleTimeout = 30000, totalTimeout = 120000 } = {}) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (value) => { if (!done) { done = true; clearTimeout(total); resolve(value); } };
    let length;
    if (Buffer.isBuffer(body) || typeof body === 'string') length = Buffer.byteLength(body);
    else if (body) length = body.size;
    const h = { ...headers };
    if (length !== undefined && h['Content-Length'] === undefined) h['Content-Length'] = length;
    const req = request(url, { method, headers: h, agent: false }, (res) => {
      const parts = [];
      res.on('data', (d) => { parts.push(d); req.setTimeout(idleTimeout); });
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        finish({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', (error) => finish({ error: error.code || error.message }));
      res.on('aborted', () => finish({ error: 'response aborted' }));
    });
    const total = setTimeout(() => { req.destroy(new Error('total timeout')); finish({ error: 'total timeout' }); }, totalTimeout);
    req.setTimeout(idleTimeout, () => { req.destroy(new Error('idle timeout')); finish({ error: 'idle timeout' }); });
    req.on('error', (error) => finish({ error: error.code || error.message }));
    if (body === undefined) { req.end(); return; }
    if (Buffer.isBuffer(body) || typeof body === 'string') { req.end(body); return; }
    // Stream a range of a file in 1 MiB pieces (no whole chunk in memory), honouring backpressure.
    const fd = openSync(body.path, 'r');
    let sent = 0;
    const pump = () => {
      while (sent < body.size) {
        if (done || req.destroyed) { closeSync(fd); return; }
        const n = Math.min(MiB, body.size - sent);
        const piece = Buffer.allocUnsafe(n);
        readSync(fd, piece, 0, n, body.start + sent);
        sent += n;
        if (!req.write(piece)) { req.once('drain', pump); return; }
      }
      closeSync(fd);
      req.end();
    };
    req.on('close', () => { if (sent < body.size) { try { closeSync(fd); } catch { /* closed */ } sent = body.size; } });
    pump();
  });
}

// ---- hashing (the WebAssembly core, the same code the widget runs) ----------------------------

let corePromise;
export function wasmCore() {
  if (!corePromise) {
    const dir = process.env.RESUMABLE_WASM_DIR;
    if (!dir) throw new Error('RESUMABLE_WASM_DIR must point at the Emscripten build output');
    const require = createRequire(import.meta.url);
    const create = require(join(dir, 'resumable_core.js'));
    corePromise = create({ wasmBinary: readFileSync(join(dir, 'resumable_core.wasm')) });
  }
  return corePromise;
}

// Chunk count for the clients' default mode (last chunk absorbs the remainder) or forceChunkSize.
export function chunkCount(size, chunkSize, force = false) {
  return Math.max(1, force ? Math.ceil(size / chunkSize) : Math.floor(size / chunkSize));
}

export function chunkSpan(size, chunkSize, count, number) {
  const offset = (number - 1) * chunkSize;
  return { offset, size: number === count ? size - offset : chunkSize };
}

// Tree digests (docs/digest.md) of every chunk and of the whole file, as the wasm core computes
// them, read once in 8 MiB pieces: leaves over the whole file; a leaf-aligned chunk's digest from
// its leaves, an unaligned one's from its bytes.
export async function hashFile(path, chunkSize, force = false) {
  const core = await wasmCore();
  const size = statSync(path).size;
  const count = chunkCount(size, chunkSize, force);
  const leafHasher = core.createLeafHasher(0);
  const bytesHasher = core.createBytesChunkHasher();
  const leaves = [];
  const chunks = [];
  const fd = openSync(path, 'r');
  const buffer = Buffer.allocUnsafe(8 * MiB);
  try {
    for (let k = 1; k <= count; k++) {
      const span = chunkSpan(size, chunkSize, count, k);
      const aligned = core.chunkIsLeafAligned(span.offset, span.size, size);
      for (let done = 0; done < span.size;) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, span.size - done), span.offset + done);
        const bytes = buffer.subarray(0, n);
        leaves.push(...leafHasher.update(bytes));
        if (!aligned) bytesHasher.update(bytes);
        done += n;
      }
      if (k === count) leaves.push(...leafHasher.finish());
      if (aligned) {
        const first = span.offset / MiB;
        const end = span.size === 0 ? 1 : Math.ceil((span.offset + span.size) / MiB);
        chunks.push(core.toHex(core.chunkDigestFromLeaves(leaves.slice(first, end))));
      } else {
        chunks.push(core.toHex(bytesHasher.digest()));
      }
    }
  } finally {
    closeSync(fd);
    leafHasher.dispose(); bytesHasher.dispose();
  }
  const file = core.toHex(core.fileDigestFromLeaves(leaves, size));
  return { size, count, chunks, file };
}

// ---- files -------------------------------------------------------------------------------------

export function writeRandomFile(path, size) {
  const fd = openSync(path, 'w');
  try {
    const piece = Buffer.allocUnsafe(Math.max(1, Math.min(size, 4 * MiB)));
    for (let written = 0; written < size;) {
      const n = Math.min(piece.length, size - written);
      randomFillSync(piece, 0, n);
      writeSync(fd, piece, 0, n, written);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
}

// A sparse file: 4 KiB of pseudo-random bytes at every MiB and at the end, holes elsewhere. Any
// misplaced or reordered chunk changes its digest; cheap on disk.
export function writeMarkedSparseFile(path, size, seed = 1) {
  const random = rng(seed);
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    const mark = Buffer.allocUnsafe(4096);
    const stamp = (offset) => {
      const n = Math.min(4096, size - offset);
      for (let i = 0; i + 4 <= n; i += 4) mark.writeUInt32LE((random() * 4294967296) >>> 0, i);
      writeSync(fd, mark, 0, n, offset);
    };
    for (let offset = 0; offset < size; offset += MiB) stamp(offset);
    if (size >= 4096) stamp(size - 4096);
  } finally {
    closeSync(fd);
  }
}

// Every file below `dir` (relative paths), recursively.
export function listTree(dir) {
  const out = [];
  const walk = (d, prefix) => {
    let entries;
    try { entries = readdirSync(d, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) { out.push(`${rel}/`); walk(join(d, e.name), rel); } else out.push(rel);
    }
  };
  walk(dir, '');
  return out.sort();
}

export { existsSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync, mkdirSync };

// ---- the scripted client ---------------------------------------------------------------------

// Uploads `path` with the protocol the widget speaks: one status request, then every missing chunk as
// a raw (or multipart) POST with resumable* parameters, chunkDigest and fileDigest; retries what the
// server marks retryable, network failures and timeouts, with a bounded number of attempts.
// `base()` gives the current server (or proxy) URL: it may change between attempts (a restarted
// server). Resolves with the final result and counters; rejects only when attempts run out or the
// server answers a permanent error.
export async function uploadFile({
  base, path, identifier, user = 'alice', chunkSize = MiB, force = false, parallel = 2, multipart = false,
  chunkDigests = true, fileDigest = true, maxAttemptsPerChunk = 60, idleTimeout = 10000, retryDelay = 20,
  hashes, fileName = 'file.bin', onReply, deadline = Date.now() + 600000,
}) {
  const h = hashes ?? await hashFile(path, chunkSize, force);
  const stats = { requests: 0, networkErrors: 0, errors: {}, duplicates: 0, restarts: 0, statusRequests: 0 };
  const headers = { 'X-Test-User': user };
  const common = {
    resumableChunkSize: chunkSize, resumableTotalSize: h.size, resumableTotalChunks: h.count,
    resumableIdentifier: identifier, resumableFilename: fileName, resumableRelativePath: fileName,
  };
  let final = null;
  const note = (reply) => {
    if (reply.error) stats.networkErrors++;
    else if (reply.json?.error) stats.errors[reply.json.error] = (stats.errors[reply.json.error] ?? 0) + 1;
    onReply?.(reply);
  };

  for (let round = 0; round < 40 && !final; round++) {
    if (Date.now() > deadline) throw new Error(`${identifier}: deadline passed`);
    // What does the server hold? (bounded retries: the server may be down)
    let held = new Set();
    for (let attempt = 0; ; attempt++) {
      stats.statusRequests++;
      const s = await http(`${base()}/upload/status?identifier=${encodeURIComponent(identifier)}`, { headers, idleTimeout });
      note(s);
      if (s.status === 200 && s.json?.status === 'complete') { final = s.json; break; }
      if (s.status === 200 && s.json?.status === 'partial') {
        s.json.received.forEach(([a, b], i) => { for (let k = a; k <= b; k++) held.add(k); });
        // A chunk held with another digest than the local one: bytes were corrupted on the way and
        // stored (possible only without chunk digests). Like the widget, delete the upload and start over.
        let index = 0;
        let foreign = 0;
        for (const [a, b] of s.json.received) for (let k = a; k <= b; k++) {
          if (s.json.digests[index++] !== h.chunks[k - 1]) foreign++;
        }
        if (foreign > 0) {
          if (chunkDigests) throw new Error(`${identifier}: server holds ${foreign} chunks with a foreign digest although every chunk carried its digest`);
          stats.foreignChunksSeen = (stats.foreignChunksSeen ?? 0) + foreign;
          onReply?.({ foreignChunks: foreign, identifier });
          const d = await http(`${base()}/upload?identifier=${encodeURIComponent(identifier)}`, { method: 'DELETE', headers, idleTimeout });
          note(d);
          stats.restarts++;
          held = new Set();
          continue;
        }
        break;
      }
      if (s.status === 404) break;
      if (attempt > 200 || Date.now() > deadline) throw new Error(`${identifier}: status kept failing: ${s.status} ${s.error ?? s.text}`);
      await sleep(retryDelay + Math.min(attempt, 10) * 20);
    }
    if (final) break;
    const missing = [];
    for (let k = 1; k <= h.count; k++) if (!held.has(k)) missing.push(k);
    let restart = false;
    const sendChunk = async (k) => {
      const span = chunkSpan(h.size, chunkSize, h.count, k);
      const query = new URLSearchParams({ ...common, resumableChunkNumber: k, resumableCurrentChunkSize: span.size });
      if (chunkDigests) query.set('chunkDigest', h.chunks[k - 1]);
      if (fileDigest) query.set('fileDigest', h.file);
      for (let attempt = 1; attempt <= maxAttemptsPerChunk; attempt++) {
        if (final || restart) return;
        if (Date.now() > deadline) throw new Error(`${identifier}: deadline passed at chunk ${k}`);
        stats.requests++;
        let reply;
        if (multipart) {
          const boundary = `----rsm${Math.random().toString(16).slice(2)}`;
          const fields = [...query.entries()].map(([name, value]) =>
            `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`).join('');
          const fd = openSync(path, 'r');
          const bytes = Buffer.alloc(span.size);
          readSync(fd, bytes, 0, span.size, span.offset);
          closeSync(fd);
          const body = Buffer.concat([
            Buffer.from(`${fields}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n`),
            bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]);
          reply = await http(`${base()}/upload`, { method: 'POST', headers: { ...headers, 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body, idleTimeout });
        } else {
          reply = await http(`${base()}/upload?${query}`, {
            method: 'POST', headers: { ...headers, 'Content-Type': 'application/octet-stream' },
            body: { path, start: span.offset, size: span.size }, idleTimeout,
          });
        }
        note(reply);
        if (reply.status === 200 && reply.json?.status === 'complete') { final = reply.json; return; }
        if (reply.status === 200 && reply.json?.status === 'chunk_stored') { if (reply.json.duplicate) stats.duplicates++; return; }
        if (reply.json?.error === 'file_digest_mismatch' || reply.json?.error === 'upload_not_found') { restart = true; return; }
        if (reply.status && reply.json && reply.json.retryable === false) {
          throw new Error(`${identifier}: chunk ${k}: permanent error ${reply.status} ${reply.text}`);
        }
        if (reply.status && !reply.json && reply.status !== 200) {
          // Not our endpoint's JSON (e.g. a broken reply): treat like a network failure.
        }
        await sleep(retryDelay + Math.min(attempt, 10) * 10);
      }
      throw new Error(`${identifier}: chunk ${k} failed ${maxAttemptsPerChunk} times`);
    };
    let next = 0;
    const worker = async () => { while (next < missing.length && !final && !restart) await sendChunk(missing[next++]); };
    await Promise.all(Array.from({ length: Math.min(parallel, missing.length) }, worker));
    if (restart) stats.restarts++;
    // Loop: a status request tells what is still missing (or brings the final result).
  }
  if (!final) throw new Error(`${identifier}: did not complete`);
  if (final.fileDigest !== h.file || final.size !== h.size) {
    throw new Error(`${identifier}: final result ${JSON.stringify(final)} differs from the local file ${h.file}`);
  }
  return { final, stats, hashes: h };
}

export async function claim(baseUrl, token, user = 'alice') {
  const r = await http(`${baseUrl}/test/claim?token=${encodeURIComponent(token)}`, { method: 'POST', headers: { 'X-Test-User': user } });
  return r;
}

export async function collect(baseUrl) {
  return http(`${baseUrl}/test/collect`, { method: 'POST' });
}
