// Server-side measures: ingest rate and peak RSS of our server and its peers (nginx WebDAV PUT,
// @tus/server + @tus/file-store driven by tus-js-client), the b2sum and dd ceilings, memory flatness
// across file sizes, and finalize latency. Clients run in this node process; servers in their own;
// the native clients (our `resumable` command, `curl -T`) in theirs, with their own CPU measured.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, openSync, readSync, closeSync, rmSync, statSync, readdirSync } from 'node:fs';
import { request } from 'node:http';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hashFile } from '../../reliability/support.mjs';
import { startNginx as startSharedNginx } from '../../support/nginx.mjs';
import * as tus from 'tus-js-client';
import { MiB, b2sum256, childPids, cpuSecondsOf, memoryOf, ownCpuSeconds, settle, startProcess, treeDigest } from './common.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const USER = 'bench';

// ---- digests of the source, computed once per file (outside every timing) ---------------------

const digestCache = new Map();

// The tree digests our endpoint checks (wasm core, tests/reliability/support.mjs), and the plain
// BLAKE2b-256 of the file by b2sum, which checks the bytes every server stored.
export async function chunkDigests(path, size, chunkSize) {
  const key = `${path}:${size}:${chunkSize}:${statSync(path).mtimeMs}`;
  if (digestCache.has(key)) return digestCache.get(key);
  if (statSync(path).size !== size) throw new Error(`${path} is not ${size} bytes long`);
  const hashes = await hashFile(path, chunkSize);
  const result = { count: hashes.count, digests: hashes.chunks, fileDigest: hashes.file, plainDigest: b2sum256(path) };
  digestCache.set(key, result);
  return result;
}

// ---- one raw HTTP request whose body streams from a file range ---------------------------------

// Resolves {status, text, sentAt, doneAt}: sentAt when the last body byte was handed to the kernel
// ('finish'), doneAt when the whole reply was read. One connection per request (agent: false), as
// CivetWeb closes every connection after its reply.
// With `buffers` (a BufferShelf), the range is read into a reused buffer and sent in one write: the
// client then costs about a copy per byte, where a read stream allocates fresh buffers (fresh pages,
// each a host page fault on this VM) and made the client the biggest CPU user of the machine.
export function sendRange({ url, method = 'POST', headers = {}, path, offset, size, buffers }) {
  if (size === 0) return exchange({ url, method, headers, size }, (req) => req.end());
  if (!buffers) {
    return exchange({ url, method, headers, size }, (req, reject) => {
      const body = createReadStream(path, { start: offset, end: offset + size - 1, highWaterMark: MiB });
      body.on('error', reject);
      body.pipe(req);
    });
  }
  const buffer = buffers.take();
  for (let at = 0; at < size;) {
    const n = readSync(buffers.fd, buffer, at, size - at, offset + at);
    if (n <= 0) throw new Error(`short read at ${offset + at}`);
    at += n;
  }
  return exchange({ url, method, headers, size }, (req) => req.end(buffer.subarray(0, size)))
    .finally(() => buffers.give(buffer));
}

// Reused body buffers for one upload: one per request in flight, read from one open descriptor.
export class BufferShelf {
  constructor(path, size) { this.fd = openSync(path, 'r'); this.size = size; this.free = []; }
  take() { return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size); }
  give(buffer) { this.free.push(buffer); }
  close() { closeSync(this.fd); this.free = []; }
}

// One request whose body `send(req, reject)` writes; resolves as sendRange describes.
function exchange({ url, method, headers, size }, send) {
  return new Promise((resolve, reject) => {
    let sentAt = NaN;
    const req = request(url, {
      agent: false, method,
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': size, ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { if (text.length < 65536) text += d; });
      res.on('end', () => resolve({ status: res.statusCode, text, sentAt, doneAt: performance.now() }));
      res.on('error', reject);
    });
    req.setTimeout(120000, () => req.destroy(new Error(`no reply within 120 s from ${url}`)));
    req.on('finish', () => { sentAt = performance.now(); });
    req.on('error', reject);
    send(req, reject);
  });
}

// Runs `count` jobs numbered 1..count with `parallel` in flight; resolves with their results.
async function pool(count, parallel, job) {
  const results = new Array(count);
  let next = 1;
  const worker = async () => {
    while (next <= count) {
      const number = next++;
      results[number - 1] = await job(number);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return results;
}

// ---- our server -----------------------------------------------------------------------------

export async function startOurServer(bin, dataDir, { durable = false, threads = 32, extra = [] } = {}) {
  mkdirSync(dataDir, { recursive: true });
  const server = await startProcess(bin, ['--port', '0', '--data-dir', dataDir, '--durable', durable ? '1' : '0',
    '--threads', String(threads), ...extra], { ready: /listening on (http:\/\/\S+)/, name: 'resumable_test_server' });
  // CivetWeb's mg_stop takes 2-3 s; the measurement is over when this is called and the data dir is
  // deleted afterwards, so the benchmark does not wait for a clean shutdown.
  const stop = server.stop;
  server.stop = () => stop('SIGKILL');
  return server;
}

async function claim(server, token) {
  const response = await fetch(new URL(`test/claim?token=${token}`, server.url), { method: 'POST', headers: { 'X-Test-User': USER } });
  return { status: response.status, body: await response.json() };
}

// Sends `path` to `target` (anything with a `url` and an `output()` for error messages: one server,
// or nginx before several) as raw chunks with chunkDigest and fileDigest, `parallel` at once; checks
// the final result. Measures nothing on the server side and claims nothing, so that several uploads
// can run at once and be measured together (lib/scaleout.mjs).
// Resolves {seconds, replies: [{number, sentAt, doneAt, body}], final, plainDigest}.
// `order`: the chunk numbers in the order they are started (default 1, 2, …).
export async function sendChunks(target, { path, size, chunkSize, parallel, identifier, order = null }) {
  const { count, digests, fileDigest, plainDigest } = await chunkDigests(path, size, chunkSize);
  const base = {
    resumableChunkSize: chunkSize, resumableTotalSize: size, resumableTotalChunks: count,
    resumableIdentifier: identifier, resumableFilename: 'bench.bin', fileDigest,
  };
  const buffers = new BufferShelf(path, Math.min(chunkSize, size));
  const started = performance.now();
  let replies;
  try {
    replies = await pool(count, parallel, async (index) => {
      const number = order ? order[index - 1] : index;
      const offset = (number - 1) * chunkSize;
      const current = number === count ? size - offset : chunkSize;
      const query = new URLSearchParams({ ...base, resumableChunkNumber: number, resumableCurrentChunkSize: current,
        chunkDigest: digests[number - 1] });
      const reply = await sendRange({ url: new URL(`upload?${query}`, target.url), headers: { 'X-Test-User': USER },
        path, offset, size: current, buffers });
      if (reply.status !== 200) throw new Error(`chunk ${number}: ${reply.status} ${reply.text}; server: ${target.output().slice(-2000)}`);
      return { number, sentAt: reply.sentAt, doneAt: reply.doneAt, body: JSON.parse(reply.text) };
    });
  } finally {
    buffers.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const finals = replies.filter((r) => r.body.status === 'complete');
  if (finals.length < 1) throw new Error('no reply carried the final result');
  const final = finals[0].body;
  if (final.fileDigest !== fileDigest || final.size !== size) throw new Error(`final result differs: ${JSON.stringify(final)}`);
  return { seconds, replies, final, plainDigest };
}

// The stored file of the filesystem store: its bytes' digest and its removal (the S3 store's
// objects: lib/scaleout.mjs).
export const storedFile = { digest: (location) => b2sum256(location), remove: (location) => rmSync(location, { force: true }) };

// Claims the upload `final` names through `target`; with `verify`, checks the stored bytes
// against the source's plain digest; then removes them (`stored`: where they are kept).
export async function claimAndCheck(target, { final, plainDigest, verify = true, stored = storedFile }) {
  const claimed = await claim(target, final.token);
  if (claimed.status !== 200) throw new Error(`claim failed: ${JSON.stringify(claimed.body)}`);
  if (verify && stored.digest(claimed.body.path) !== plainDigest) throw new Error('the stored file differs from the source');
  stored.remove(claimed.body.path);
}

// One upload into our server (sendChunks), with the server's CPU seconds and memory; the stored
// file checked with b2sum (after timing) when `verifyStored`, then deleted.
// Returns {seconds, cpu, clientCpu, hwm, rss, replies: [{number, sentAt, doneAt, body}], final}.
export async function uploadToOurs(server, { path, size, chunkSize, parallel, identifier, verifyStored = true, order = null }) {
  const cpu0 = cpuSecondsOf(server.pid);
  const client0 = ownCpuSeconds();
  const sent = await sendChunks(server, { path, size, chunkSize, parallel, identifier, order });
  const cpu = cpuSecondsOf(server.pid) - cpu0;
  const clientCpu = ownCpuSeconds() - client0;
  const memory = memoryOf(server.pid);
  await claimAndCheck(server, { final: sent.final, plainDigest: sent.plainDigest, verify: verifyStored });
  return { seconds: sent.seconds, cpu, clientCpu, hwm: memory.hwm, rss: memory.rss, replies: sent.replies, final: sent.final };
}

// ---- native clients: our command into our server, curl -T into nginx ------------------------------

// Runs `command args` under bash and resolves {code, stdout, stderr, seconds, cpu}: cpu is the
// command's own user + system seconds (bash's `times` line for its children, which counts every
// thread and child the command waited for). Not spawnSync: the servers' output pipes keep draining.
function runTimed(command, args) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('bash', ['-c', '"$@"; code=$?; times; exit $code', 'bash', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const lines = stdout.trimEnd().split('\n');
      const [user, system] = lines.pop().split(/\s+/).map((t) => {
        const m = /^(\d+)m([\d.]+)s$/.exec(t);
        return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
      });
      lines.pop();  // the shell's own times
      resolve({ code, stdout: lines.join('\n'), stderr, seconds, cpu: user + system });
    });
  });
}

// `resumable upload` of the whole file into our server (one file: --parallel chunk requests at
// once); the command checks the server's file digest itself, and the stored file is checked here
// as for uploadToOurs (outside the timing).
export async function uploadWithCli(server, { cli, path, size, chunkSize, parallel, verifyStored = true }) {
  const { fileDigest, plainDigest } = await chunkDigests(path, size, chunkSize);
  const cpu0 = cpuSecondsOf(server.pid);
  const run = await runTimed(cli, ['upload', '--json', '--quiet', '--chunk-size', String(chunkSize), '--parallel', String(parallel),
    '--header', `X-Test-User: ${USER}`, path, new URL('upload', server.url).href]);
  const cpu = cpuSecondsOf(server.pid) - cpu0;
  const memory = memoryOf(server.pid);
  if (run.code !== 0) throw new Error(`resumable upload exited with ${run.code}: ${run.stderr}`);
  const line = JSON.parse(run.stdout.split('\n').find((l) => l.startsWith('{')));
  if (line.fileDigest !== fileDigest) throw new Error(`resumable upload printed another digest: ${JSON.stringify(line)}`);
  const claimed = await claim(server, line.token);
  if (claimed.status !== 200) throw new Error(`claim failed: ${JSON.stringify(claimed.body)}`);
  if (verifyStored && b2sum256(claimed.body.path) !== plainDigest) throw new Error('the stored file differs from the source');
  rmSync(claimed.body.path, { force: true });
  return { seconds: run.seconds, cpu, clientCpu: run.cpu, hwm: memory.hwm, rss: memory.rss };
}

// `curl -T FILE` into nginx: the whole file as one PUT, the plain command-line upload the CLI replaces.
export async function uploadWithCurl(nginx, { path, size, chunkSize, run }) {
  const { plainDigest } = await chunkDigests(path, size, chunkSize);
  const before = nginxMemory(nginx);
  const result = await runTimed('curl', ['-sS', '--fail', '-T', path, new URL(`dav/${run}/bench.bin`, nginx.url).href]);
  const memory = nginxMemory(nginx);
  if (result.code !== 0) throw new Error(`curl -T exited with ${result.code}: ${result.stderr}`);
  const stored = join(nginx.root, 'dav', run, 'bench.bin');
  if (b2sum256(stored) !== plainDigest) throw new Error('nginx stored different bytes (curl -T)');
  rmSync(join(nginx.root, 'dav', run), { recursive: true, force: true });
  return { seconds: result.seconds, cpu: memory.cpu - before.cpu, clientCpu: result.cpu, hwm: memory.hwm, rss: memory.rss };
}

// ---- nginx (Debian) with WebDAV PUT -------------------------------------------------------------

export async function startNginx(workDir) {
  const root = join(workDir, 'root');
  mkdirSync(root, { recursive: true });
  // Stock nginx with its WebDAV module: PUT writes the body to a temporary file in client_body_temp_path
  // (same filesystem as the root) and renames it into place. 256 KiB body buffer = our io buffer.
  const nginx = await startSharedNginx(workDir, (port) => `
  server {
    listen 127.0.0.1:${port};
    location /dav/ {
      root ${root};
      dav_methods PUT DELETE;
      create_full_put_path on;
      client_max_body_size 0;
      client_body_buffer_size 256k;
    }
  }`);
  return { ...nginx, root };
}

function nginxMemory(nginx) {
  const pids = [nginx.pid, ...childPids(nginx.pid)];
  let hwm = 0;
  let rss = 0;
  let cpu = 0;
  for (const pid of pids) {
    const m = memoryOf(pid);
    hwm += m.hwm;
    rss += m.rss;
    cpu += cpuSecondsOf(pid);
  }
  return { hwm, rss, cpu, processes: pids.length };
}

// The same chunks, each PUT to its own file; checks that their concatenation has the source's digest.
export async function uploadToNginx(nginx, { path, size, chunkSize, parallel, run }) {
  const { count, plainDigest } = await chunkDigests(path, size, chunkSize);
  const buffers = new BufferShelf(path, Math.min(chunkSize, size));
  const before = nginxMemory(nginx);
  const client0 = ownCpuSeconds();
  const started = performance.now();
  await pool(count, parallel, async (number) => {
    const offset = (number - 1) * chunkSize;
    const current = number === count ? size - offset : chunkSize;
    const reply = await sendRange({ url: new URL(`dav/${run}/${String(number).padStart(6, '0')}`, nginx.url), method: 'PUT',
      path, offset, size: current, buffers });
    if (reply.status !== 201 && reply.status !== 204) throw new Error(`nginx PUT ${number}: ${reply.status} ${reply.text}`);
  });
  const seconds = (performance.now() - started) / 1000;
  const clientCpu = ownCpuSeconds() - client0;
  buffers.close();
  const memory = nginxMemory(nginx);
  const dir = join(nginx.root, 'dav', run);
  const parts = readdirSync(dir).sort().map((name) => join(dir, name));
  const digest = catDigest(parts);
  if (digest !== plainDigest) throw new Error('nginx stored different bytes');
  rmSync(dir, { recursive: true, force: true });
  return { seconds, cpu: memory.cpu - before.cpu, clientCpu, hwm: memory.hwm, rss: memory.rss, processes: memory.processes };
}

function catDigest(paths) {
  const out = spawnSync('bash', ['-c', 'cat "$@" | b2sum -l 256', 'cat', ...paths], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (out.status !== 0) throw new Error(`cat | b2sum failed: ${out.stderr}`);
  return out.stdout.split(' ')[0];
}

// ---- @tus/server + @tus/file-store, tus-js-client in node ---------------------------------------

export async function startTus(dataDir) {
  mkdirSync(dataDir, { recursive: true });
  return startProcess(process.execPath, [join(here, '..', 'tus_server.mjs'), '--dir', dataDir],
    { ready: /listening on (http:\/\/\S+)/, name: 'tus server' });
}

function tusUpload(endpoint, path, start, end, chunkSize) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(path, { start, end: end - 1 }), {
      endpoint,
      chunkSize,
      retryDelays: null,
      metadata: { filename: 'bench.bin' },
      storeFingerprintForResuming: false,
      onError: reject,
      onSuccess: () => resolve(upload.url),
    });
    upload.start();
  });
}

// One stream: one tus upload of the whole file in `chunkSize` PATCHes. Several streams: @tus/file-store
// has no concatenation extension (so tus-js-client's parallelUploads cannot work); the file is cut into
// `parallel` equal ranges uploaded as separate tus uploads at the same time: the same bytes arrive
// over the same number of connections. The stored parts must concatenate to the source.
export async function uploadToTus(tusServer, { path, size, chunkSize, parallel, dataDir }) {
  const { plainDigest } = await chunkDigests(path, size, chunkSize);
  const endpoint = new URL('files', tusServer.url).href;
  const ranges = [];
  const per = Math.ceil(size / parallel / chunkSize) * chunkSize;
  for (let start = 0; start < size; start += per) ranges.push([start, Math.min(size, start + per)]);
  const cpu0 = cpuSecondsOf(tusServer.pid);
  const client0 = ownCpuSeconds();
  const started = performance.now();
  const urls = await Promise.all(ranges.map(([s, e]) => tusUpload(endpoint, path, s, e, chunkSize)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSecondsOf(tusServer.pid) - cpu0;
  const clientCpu = ownCpuSeconds() - client0;
  const memory = memoryOf(tusServer.pid);
  const parts = urls.map((u) => join(dataDir, new URL(u).pathname.split('/').pop()));
  if (catDigest(parts) !== plainDigest) throw new Error('@tus/server stored different bytes');
  for (const p of parts) {
    rmSync(p, { force: true });
    rmSync(`${p}.json`, { force: true });
  }
  return { seconds, cpu, clientCpu, hwm: memory.hwm, rss: memory.rss };
}

// tus-js-client into our server's tus front-end (started with --tus-path /files): one upload in
// `chunkSize` PATCHes, or with `parallelUploads` (concatenation) for several streams. tus-js-client
// sends no Upload-Checksum; the server verifies what it can (every piece hashed into the tree
// digest) and the final digest in Upload-File-Digest must equal the file's, so the bytes are
// verified end to end as for our own protocol.
export async function uploadToOursTus(server, { path, size, chunkSize, parallel, verifyStored = true }) {
  const { plainDigest } = await chunkDigests(path, size, chunkSize);
  const expected = treeDigest(path);
  const cpu0 = cpuSecondsOf(server.pid);
  const client0 = ownCpuSeconds();
  const started = performance.now();
  const last = await new Promise((resolve, reject) => {
    let final = null;
    const upload = new tus.Upload(createReadStream(path), {
      endpoint: new URL('files', server.url).href,
      headers: { 'X-Test-User': USER },
      chunkSize,
      retryDelays: null,
      metadata: { filename: 'bench.bin' },
      storeFingerprintForResuming: false,
      ...(parallel > 1 ? { parallelUploads: parallel } : {}),
      onAfterResponse(_req, res) {
        if (res.getHeader('Upload-Token')) final = { token: res.getHeader('Upload-Token'), digest: res.getHeader('Upload-File-Digest') };
      },
      onError: reject,
      onSuccess: () => resolve(final),
    });
    upload.start();
  });
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSecondsOf(server.pid) - cpu0;
  const clientCpu = ownCpuSeconds() - client0;
  const memory = memoryOf(server.pid);
  if (!last) throw new Error('no tus reply carried Upload-Token');
  if (last.digest !== `rsm-tree-v1 ${expected}`) throw new Error(`tus final digest ${last.digest}, expected ${expected}`);
  const claimed = await claim(server, last.token);
  if (claimed.status !== 200) throw new Error(`claim failed: ${JSON.stringify(claimed.body)}`);
  if (verifyStored && b2sum256(claimed.body.path) !== plainDigest) throw new Error('the stored file differs from the source');
  rmSync(claimed.body.path, { force: true });
  return { seconds, cpu, clientCpu, hwm: memory.hwm, rss: memory.rss };
}

// ---- ceilings: b2sum of the file, dd of the file into a new one ---------------------------------

// b2sum's wall time and CPU seconds (bash's `times` reports its children's user and system time).
export function timeB2sum(path) {
  const started = performance.now();
  const out = spawnSync('bash', ['-c', 'b2sum -l 256 "$1" >/dev/null && times', 'b2sum', path], { encoding: 'utf8' });
  const seconds = (performance.now() - started) / 1000;
  if (out.status !== 0) throw new Error(`b2sum failed: ${out.stderr}`);
  const children = out.stdout.trim().split('\n').pop().split(/\s+/).map((t) => {
    const [, m, sec] = /^(\d+)m([\d.]+)s$/.exec(t);
    return Number(m) * 60 + Number(sec);
  });
  return { seconds, cpu: children[0] + children[1] };
}

export function timeDd(path, outDir, direct = false) {
  const out = join(outDir, 'dd-copy.bin');
  rmSync(out, { force: true });
  const started = performance.now();
  execFileSync('dd', [`if=${path}`, `of=${out}`, 'bs=8M', 'status=none', ...(direct ? ['oflag=direct'] : [])]);
  const seconds = (performance.now() - started) / 1000;
  rmSync(out, { force: true });
  return { seconds };
}

export { settle };
