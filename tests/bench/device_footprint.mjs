// Memory of examples/device-minimal while it takes uploads from the host's `resumable` command
// (docs/device.md; run by device_footprint.sh, which builds what it needs). Prints one JSON line of
// figures. Environment: RESUMABLE_EXAMPLE_BIN, RESUMABLE_EMULATOR (qemu-arm for the armhf build,
// empty natively), RESUMABLE_HOST_CLI.
//
// Under qemu-user the process's RSS is mostly qemu's own (its translator and code cache), so the
// guest runs at a known base (qemu-arm -B): its 32-bit address space is the 4 GiB window above it,
// and the guest's own memory is the Rss of the mappings inside that window (/proc/PID/smaps).
// Natively, the process's Rss is the server's. Either way memory is sampled every 20 ms.
//
// Per connection "beyond CivetWeb's own": before the uploads, every worker serves the plain page
// (several rounds of as many requests at once as there are workers), so each worker's stack pages
// and CivetWeb's per-connection state are already resident. Peak during the uploads minus that
// warm baseline, over the uploads served at once (min(uploads, workers)), is what an upload
// connection adds: the endpoint's 16 KiB body buffer, hashing state and the upload's bookkeeping.
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, ftruncateSync, writeSync, closeSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExample } from '../device/example_server.mjs';

const MiB = 1048576;
const GUEST_BASE = 0x100000000000n;
const emulated = Boolean(process.env.RESUMABLE_EMULATOR);
const dir = mkdtempSync(join(tmpdir(), 'resumable-footprint-'));

// {rss, anon}: resident bytes, and of them the anonymous ones (heap, stacks, buffers: what a
// connection can add; the rest are pages of the binary and the libraries).
function residentBytes(pid) {
  let rss = 0;
  let anon = 0;
  let inside = !emulated;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) {
      const start = BigInt(`0x${range[1]}`);
      inside = !emulated || (start >= GUEST_BASE && BigInt(`0x${range[2]}`) <= GUEST_BASE + 0x100000000n);
    } else if (inside && line.startsWith('Rss:')) {
      rss += Number(/(\d+) kB/.exec(line)[1]) * 1024;
    } else if (inside && line.startsWith('Anonymous:')) {
      anon += Number(/(\d+) kB/.exec(line)[1]) * 1024;
    }
  }
  return { rss, anon };
}

// Samples until stop() is called; resolves with the peak.
function sampler(pid) {
  const peak = residentBytes(pid);
  const take = () => {
    const now = residentBytes(pid);
    peak.rss = Math.max(peak.rss, now.rss);
    peak.anon = Math.max(peak.anon, now.anon);
  };
  const timer = setInterval(() => { try { take(); } catch { /* exited */ } }, 20);
  return { stop() { clearInterval(timer); take(); return peak; } };
}

// A file with 4 KiB of random bytes at every MiB, sparse elsewhere: quick to make, every chunk differs.
function markedFile(name, size) {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  ftruncateSync(fd, size);
  for (let offset = 0; offset < size; offset += MiB) writeSync(fd, randomFillSync(Buffer.alloc(Math.min(4096, size - offset))), 0, undefined, offset);
  closeSync(fd);
  return path;
}

function upload(file, url) {
  return new Promise((resolve, reject) => {
    execFile(process.env.RESUMABLE_HOST_CLI, ['upload', '--quiet', '--parallel', '1', file, url], { timeout: 600000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${file}: ${error.message} ${stderr}`)) : resolve()));
  });
}

function getPage(url) {
  return new Promise((resolve, reject) => {
    const req = request(new URL('/', url), { agent: false }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end();
  });
}

async function measure({ threads, uploads, size }) {
  const dataDir = join(dir, `data-${threads}-${uploads}-${size}`);
  const server = await startExample({ dataDir, threads, emulatorArgs: emulated ? ['-B', `0x${GUEST_BASE.toString(16)}`] : [] });
  try {
    const idle = residentBytes(server.pid);
    for (let round = 0; round < 4; round += 1) {
      // eslint-disable-next-line no-await-in-loop
      await Promise.all(Array.from({ length: threads * 2 }, () => getPage(server.url)));
    }
    // Then one small upload per worker at once: each worker has received a chunk, so its glibc
    // arena and the code of the store, the front-end and libsodium are resident before the
    // measurement, which then sees what concurrent uploads add and nothing that happens once.
    const warmups = Array.from({ length: threads }, (_, i) => markedFile(`warm-${i}.bin`, MiB + 4097 * (i + 1)));
    await Promise.all(warmups.map((file) => upload(file, server.url)));
    await server.stored(threads);
    warmups.forEach((file) => rmSync(file));
    const warm = residentBytes(server.pid);
    const files = Array.from({ length: uploads }, (_, i) => markedFile(`file-${i}.bin`, size));
    const sampling = sampler(server.pid);
    const started = performance.now();
    await Promise.all(files.map((file) => upload(file, server.url)));
    const seconds = (performance.now() - started) / 1000;
    const peak = sampling.stop();
    await server.stored(threads + uploads);
    files.forEach((file) => rmSync(file));
    const atOnce = Math.min(uploads, threads);
    return { threads, uploads, size, idle, warm, peak, seconds,
      perConnection: Math.round((peak.rss - warm.rss) / atOnce), anonPerConnection: Math.round((peak.anon - warm.anon) / atOnce) };
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results = [];
try {
  for (const threads of [2, 4]) {
    for (const uploads of [1, 2, 4]) results.push(await measure({ threads, uploads, size: 64 * MiB }));
  }
  for (const size of [1 * MiB, 256 * MiB]) results.push(await measure({ threads: 2, uploads: 1, size }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const kib = (n) => (n / 1024).toFixed(0);
for (const r of results) {
  console.error(`${r.threads} workers, ${r.uploads} x ${r.size / MiB} MiB: idle ${kib(r.idle.rss)} KiB, warm ${kib(r.warm.rss)} KiB ` +
    `(anonymous ${kib(r.warm.anon)}), peak ${kib(r.peak.rss)} KiB (anonymous ${kib(r.peak.anon)}), per connection ` +
    `${kib(r.perConnection)} KiB (anonymous ${kib(r.anonPerConnection)}), ${r.seconds.toFixed(1)} s`);
}
console.log(JSON.stringify({ emulator: process.env.RESUMABLE_EMULATOR || null, results }));
