// Shared by the benchmark harness: processes, memory readings, timing, statistics, test files.
// Everything listens on and talks to 127.0.0.1 only; every wait is bounded.
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync, createWriteStream, existsSync, statSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export const KiB = 1024;
export const MiB = 1048576;
export const GiB = 1073741824;

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function formatSize(bytes) {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / KiB).toFixed(1)} KiB`;
}

// Parses "1GiB", "64MiB", "8M", "512k", plain bytes.
export function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)\s*(b|k|kib|m|mib|g|gib)?$/i.exec(String(text).trim());
  if (!m) throw new Error(`not a size: ${text}`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const factor = { b: 1, k: KiB, m: MiB, g: GiB }[unit];
  return Math.round(Number(m[1]) * factor);
}

// A free TCP port on 127.0.0.1 (closed again at once; a small race nobody else here runs into).
export async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

// Memory of a process and, optionally, of its children: VmHWM (peak RSS) and VmRSS in bytes.
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwm: kib('VmHWM') * KiB, rss: kib('VmRSS') * KiB };
}

// CPU seconds (user + system, all threads) a process has used so far.
export function cpuSecondsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = 100; // sysconf(_SC_CLK_TCK) on Linux

// CPU seconds this node process (the benchmark's clients) has used so far.
export function ownCpuSeconds() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// Every live process's /proc/<pid>/stat fields after the command name (state = [0], ppid = [1],
// utime, stime, cutime, cstime = [11..14]), by pid.
function processStats() {
  const stats = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      stats.set(Number(entry), stat.slice(stat.lastIndexOf(')') + 2).split(' '));
    } catch { /* exited meanwhile */ }
  }
  return stats;
}

// Whether `candidate` is `pid` or below it, by the parent links in `stats`.
function within(stats, candidate, pid) {
  let up = candidate;
  while (up !== undefined && up !== pid && up > 1) up = Number(stats.get(up)?.[1]);
  return up === pid;
}

// CPU seconds used so far by every live descendant of `pid` (Chromium's processes, the servers this
// benchmark started), found through the parent links in /proc.
export function descendantsCpuSeconds(pid) {
  const stats = processStats();
  let total = 0;
  for (const candidate of stats.keys()) {
    if (candidate === pid || !within(stats, candidate, pid)) continue;
    try { total += cpuSecondsOf(candidate); } catch { /* exited meanwhile */ }
  }
  return total;
}

// CPU seconds of the process `pid` and of all its descendants, live or exited: each live process's
// own time plus the time of the children it has reaped (cutime, cstime). PostgreSQL's postmaster
// reaps its backends, so their time stays counted after a connection closes.
export function treeCpuSeconds(pid) {
  const stats = processStats();
  let total = 0;
  for (const [candidate, fields] of stats) {
    if (within(stats, candidate, pid)) total += (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  }
  return total;
}

export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// Spawns a long-running server; resolves once `ready` matches its output (stdout or stderr).
// stop() sends SIGTERM (SIGKILL after 10 s) and resolves to the exit code.
export async function startProcess(command, args, { ready, env, timeoutMs = 20000, name = command } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs} ms: ${output}`)), timeoutMs);
    const check = (data) => {
      output += data;
      const m = ready?.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1] ?? m[0]); }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('error', (error) => { clearTimeout(timer); reject(error); });
    child.on('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`${name} exited (${code ?? signal}): ${output}`)); });
    if (!ready) child.once('spawn', () => { clearTimeout(timer); resolve(null); });
  });
  // Keep draining output (bounded) so a chatty child never blocks on a full pipe.
  child.stdout.removeAllListeners('data');
  child.stderr.removeAllListeners('data');
  const keep = (data) => { if (output.length < 65536) output += data; };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    url,
    pid: child.pid,
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode ?? child.signalCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
      const [code, exitSignal] = await exited;
      clearTimeout(timer);
      return code ?? exitSignal;
    },
  };
}

// The idle pause before every measurement: written pages go to disk and the machine settles, so that
// fresh and reused page-cache pages do not mix differently from run to run.
// recycle = { dir, bytes }: first write and delete that many bytes there, so that the next run gets
// page-cache pages freed a moment ago (the "recycled" regime) instead of fresh ones.
export async function settle(ms = 3000, recycle = null) {
  if (recycle) {
    const path = join(recycle.dir, 'recycle-pages.bin');
    execFileSync('dd', ['if=/dev/zero', `of=${path}`, 'bs=8M', `count=${Math.ceil(recycle.bytes / (8 << 20))}`, 'conv=fsync', 'status=none']);
    rmSync(path, { force: true });
  }
  execFileSync('sync');
  await sleep(ms);
}

// The tree digest (docs/digest.md) by the Python reference: what our endpoint and widget report.
export { referenceDigest as treeDigest } from '../../reliability/support.mjs';

export function b2sum256(path) {
  return execFileSync('b2sum', ['-l', '256', path], { encoding: 'utf8', maxBuffer: 1 << 20 }).split(' ')[0];
}

// `size` random bytes, written in 4 MiB pieces.
export async function writeRandomFile(path, size) {
  const out = createWriteStream(path);
  for (let written = 0; written < size;) {
    const n = Math.min(4 * MiB, size - written);
    if (!out.write(randomBytes(n))) await once(out, 'drain');
    written += n;
  }
  out.end();
  await once(out, 'finish');
}

// A sparse file of `size` bytes with 4 KiB of random bytes at every MiB and at its end: cheap to
// make and to keep, and any misplaced chunk changes its digest.
export function writeMarkedSparseFile(path, size) {
  const fd = openSync(path, 'w');
  try {
    ftruncateSync(fd, size);
    for (let offset = 0; offset < size; offset += MiB) writeSync(fd, randomBytes(Math.min(4096, size - offset)), 0, undefined, offset);
    if (size >= 4096) writeSync(fd, randomBytes(4096), 0, 4096, size - 4096);
  } finally {
    closeSync(fd);
  }
}

// Reads a file once so that it sits in the page cache (the sources of every measurement do).
export function warmFile(path) {
  execFileSync('bash', ['-c', 'cat "$1" > /dev/null', 'warm', path]);
}

export function fileExists(path) {
  return existsSync(path) && statSync(path).isFile();
}

export function commandVersion(command, args = ['--version']) {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0].trim();
  } catch (error) {
    return String(error.stderr ?? '').split('\n')[0].trim() || 'unknown';
  }
}

// Round-robin over variants: every round measures each variant once (in a rotated order), so slow
// phases of a noisy machine hit all variants alike.
export async function rounds(count, variants, measure) {
  const results = new Map(variants.map((v) => [v, []]));
  for (let round = 0; round < count; ++round) {
    const order = variants.map((_, i) => variants[(i + round) % variants.length]);
    for (const variant of order) results.get(variant).push(await measure(variant, round));
  }
  return results;
}
