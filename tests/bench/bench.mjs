// The benchmark harness (issue 6). Run it through tests/bench/run.sh, which installs the peers first.
//   node tests/bench/bench.mjs [--smoke] [--size 1GiB] [--runs 5] [--only ingest,memory,finalize,hash,browser,resume,size,scaleout]
// Prints Markdown tables; a full run replaces the generated block of docs/BENCHMARKS.md, a smoke run
// writes bench-smoke.md into RESUMABLE_ARTIFACTS_DIR instead and checks that every measure produced
// a figure (it judges no targets). Everything runs on 127.0.0.1; every loop is bounded.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  GiB, MiB, b2sum256, treeDigest, commandVersion, formatSize, median, ownCpuSeconds, parseSize, rounds, settle, warmFile,
  writeMarkedSparseFile, writeRandomFile,
} from './lib/common.mjs';
import {
  chunkDigests, claimAndCheck, sendChunks, startNginx, startOurServer, startTus, timeB2sum, timeDd, uploadToNginx, uploadToOurs, uploadToOursTus,
  uploadToTus, uploadWithCli, uploadWithCurl,
} from './lib/ingest.mjs';
import { DEPLOYMENTS, collectS3Garbage, engineVersions, startDeployment } from './lib/scaleout.mjs';
import { hashBench, launchBrowser, resumeAfterCut, uploadInBrowser, widgetHashBench } from './lib/browser.mjs';
import { widgetSizes } from './lib/size.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');

// ---- options --------------------------------------------------------------------------------------

function parseArgs(argv) {
  const o = { smoke: false, only: null, write: true };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--smoke') o.smoke = true;
    else if (a === '--size') o.size = parseSize(value());
    else if (a === '--large') o.large = parseSize(value());
    else if (a === '--small') o.small = parseSize(value());
    else if (a === '--chunk') o.chunk = parseSize(value());
    else if (a === '--uploads') o.uploads = Number(value());
    else if (a === '--upload-size') o.uploadSize = parseSize(value());
    else if (a === '--runs') o.runs = Number(value());
    else if (a === '--only') o.only = new Set(value().split(','));
    else if (a === '--pages') {
      o.pages = value();
      if (!['fresh', 'recycled'].includes(o.pages)) throw new Error('--pages takes fresh or recycled');
    } else if (a === '--no-write') o.write = false;
    else if (a === '--output') o.output = value();
    else if (a === '--work-dir') o.workDir = value();
    else if (a === '--wasm-variants') o.wasmVariants = { 0: false, 1: true, reuse: 'reuse' }[value()];
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  return o;
}

const HELP = `usage: tests/bench/run.sh [options]
  --smoke             tiny sizes, one run, no docs written (the ctest bench.smoke)
  --size S            file size for ingest, browser uploads and resume (default 1GiB)
  --small S           smallest size for memory flatness (default 64MiB)
  --large S           largest size for memory flatness and finalize latency (default 8GiB, sparse)
  --chunk S           chunk size (default 8MiB)
  --runs N            runs per ingest variant (default 5); other measures use fewer or more, see BENCHMARKS.md
  --only LIST         comma-separated subset of: ingest,memory,finalize,hash,browser,resume,size,scaleout
                    (scaleout only when named: run.sh then starts PostgreSQL and Ceph for it)
  --uploads N         scaleout: uploads at once (default 6)
  --upload-size S     scaleout: size of each upload (default 256MiB, smoke 16MiB)
  --wasm-variants 0|1|reuse  build (into BUILD/bench-wasm) and measure the wasm core variants (default 1,
                    0 in smoke); reuse: keep variants already built there
  --pages fresh|recycled  page-cache regime of every measurement (default fresh). recycled: a file of
                    the measured size is written and deleted just before, so the run reuses pages the
                    host has already backed (this VM pays a host page fault per fresh page)
  --no-write          print only; do not touch docs/BENCHMARKS.md
  --output FILE       where the report goes (default docs/BENCHMARKS.md; smoke: RESUMABLE_ARTIFACTS_DIR/bench-smoke.md)
  --work-dir DIR      scratch folder (default a new one under the system temp dir; removed afterwards)`;

// ---- report helpers -------------------------------------------------------------------------------

const lines = [];
function out(text = '') {
  console.log(text);
  lines.push(text);
}
function table(header, rows) {
  out(`| ${header.join(' | ')} |`);
  out(`|${header.map(() => '---').join('|')}|`);
  for (const r of rows) out(`| ${r.join(' | ')} |`);
  out();
}
const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const mib = (bytes) => f1(bytes / MiB);
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

const targets = [];
function target(name, measured, pass, detail = '') {
  targets.push({ name, measured, pass, detail });
}

// ---- main ---------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(HELP);
    return 0;
  }
  const smoke = opts.smoke;
  const cfg = {
    size: opts.size ?? (smoke ? 32 * MiB : GiB),
    small: opts.small ?? (smoke ? 8 * MiB : 64 * MiB),
    large: opts.large ?? (smoke ? 32 * MiB : 8 * GiB),
    chunk: opts.chunk ?? 8 * MiB,
    // The resume measure cuts at the first chunk POST after half are acknowledged: with the smoke
    // run's 4 chunks of 8 MiB the rest were often on the wire already and the upload finished first.
    resumeChunk: smoke && !opts.chunk ? MiB : opts.chunk ?? 8 * MiB,
    runs: opts.runs ?? (smoke ? 1 : 5),
    largeRuns: smoke ? 1 : 3,
    finalizeRuns: smoke ? 1 : 3,
    hashBytes: smoke ? 16 * MiB : 128 * MiB,
    hashRuns: smoke ? 1 : 15,
    browserRuns: smoke ? 1 : 3,
    browserParallel: 3,
    idleMs: smoke ? 200 : 3000,
    pages: opts.pages ?? 'fresh',
    uploads: opts.uploads ?? 6,
    uploadSize: opts.uploadSize ?? (smoke ? 16 * MiB : 256 * MiB),
    wasmVariants: opts.wasmVariants ?? !smoke,
  };
  // The scale-out measure needs PostgreSQL and Ceph (run.sh starts them): only when named.
  const want = (part) => (opts.only ? opts.only.has(part) : part !== 'scaleout');
  const serverBin = process.env.RESUMABLE_TEST_SERVER_BIN;
  if (!serverBin || !existsSync(serverBin)) throw new Error('RESUMABLE_TEST_SERVER_BIN must name the built resumable_test_server');
  const cliBin = process.env.RESUMABLE_CLI_BIN;
  if (want('ingest') && (!cliBin || !existsSync(cliBin))) throw new Error('RESUMABLE_CLI_BIN must name the built resumable command');
  for (const tool of ['nginx', 'b2sum', 'dd', 'curl']) {
    if (spawnSync('bash', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`${tool} is missing: run tests/bench/run.sh, which installs the peers`);
  }
  const work = opts.workDir ?? mkdtempSync(join(tmpdir(), 'resumable-bench-'));
  mkdirSync(work, { recursive: true });
  const results = { cfg, started: new Date().toISOString() };
  const started = performance.now();
  try {
    header(cfg, smoke, serverBin, want);
    if (want('ingest')) results.ingest = await benchIngest(cfg, work, serverBin, cliBin);
    if (want('memory')) results.memory = await benchMemory(cfg, work, serverBin);
    if (want('finalize')) results.finalize = await benchFinalize(cfg, work, serverBin);
    if (want('scaleout')) results.scaleout = await benchScaleout(cfg, work, serverBin);
    if (want('hash') || want('browser') || want('resume') || want('size')) {
      results.browser = await benchBrowser(cfg, work, serverBin, want);
    }
    reportTargets(smoke);
  } finally {
    if (!opts.workDir) rmSync(work, { recursive: true, force: true });
  }
  out(`_Benchmark wall time: ${f0((performance.now() - started) / 1000)} s._`);

  const artifacts = process.env.RESUMABLE_ARTIFACTS_DIR ?? join(root, 'build', 'test-artifacts');
  mkdirSync(artifacts, { recursive: true });
  // A run of named measures only (--only) keeps its own files: bench.smoke_scaleout beside bench.smoke.
  const tag = opts.only ? `-${[...opts.only].sort().join('-')}` : '';
  writeFileSync(join(artifacts, smoke ? `bench-smoke${tag}.json` : `bench-results${tag}.json`), JSON.stringify(results, (k, v) =>
    (k === 'replies' ? undefined : v), 2));
  if (smoke) {
    const output = opts.output ?? join(artifacts, `bench-smoke${tag}.md`);
    writeFileSync(output, lines.join('\n') + '\n');
    const missing = checkSmoke(results, want);
    if (missing.length) {
      console.error(`bench smoke: measures without a figure: ${missing.join(', ')}`);
      return 1;
    }
    console.log(`bench smoke: every measure produced a figure; report in ${output}`);
    return 0;
  }
  if (opts.write) {
    const output = opts.output ?? join(root, 'docs', 'BENCHMARKS.md');
    writeReport(output, lines.join('\n'));
    console.log(`wrote ${output}`);
  }
  return 0;
}

function header(cfg, smoke, serverBin, want) {
  const cpu = cpus()[0]?.model ?? 'unknown';
  const osRelease = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'unknown';
  let disk = 'unknown';
  try {
    disk = execFileSync('df', ['-h', '--output=source,fstype,size,avail', tmpdir()], { encoding: 'utf8' }).trim().split('\n')[1].replace(/\s+/g, ' ');
  } catch { /* df without --output */ }
  const version = (name) => {
    try {
      return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'missing';
    }
  };
  out(`## ${smoke ? 'Smoke run (tiny sizes, one run: checks the harness, judges nothing)' : 'Results'}`);
  out();
  out(`Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC with \`tests/bench/run.sh ${process.argv.slice(2).join(' ')}\`.`);
  out();
  table(['machine', 'value'], [
    ['CPU', `${cpus().length} × ${cpu}`],
    ['memory', `${f1(totalmem() / GiB)} GiB`],
    ['OS, kernel', `${osRelease}, ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}`],
    ['scratch disk', `${disk} (${tmpdir()})`],
    ['load average at start', readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')],
  ]);
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['-C', root, 'describe', '--always', '--dirty'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch { /* not a git checkout */ }
  // CivetWeb is built from Debian's source package cached in .cache/civetweb (cmake/Civetweb.cmake).
  const civetwebSource = () => {
    try { return readdirSync(join(root, '.cache', 'civetweb')).find((n) => n.endsWith('.dsc')) ?? 'unknown'; } catch { return 'unknown'; }
  };
  table(['software', 'version'], [
    ['this repository', `${commit} (server library, widget and wasm core as built from it)`],
    ['our server', `resumable_test_server (${serverBin.replace(root + '/', '')}), CivetWeb ${civetwebSource()}, libsodium ${commandVersion('dpkg-query', ['-W', '-f=${Version}', 'libsodium-dev'])}`],
    ['nginx', commandVersion('dpkg-query', ['-W', '-f=${Version}', 'nginx'])],
    ['@tus/server, @tus/file-store', `${version('@tus/server')}, ${version('@tus/file-store')}`],
    ['tus-js-client', version('tus-js-client')],
    ['resumablejs', version('resumablejs')],
    ['hash-wasm', version('hash-wasm')],
    ['uppy', version('uppy')],
    ['Chromium', commandVersion('/usr/bin/chromium', ['--version'])],
    ['node', process.version],
    ['coreutils (b2sum, dd)', commandVersion('b2sum')],
    ...(want('scaleout') ? engineVersions() : []),
  ]);
  const memorySizes = [...new Set([cfg.small, cfg.size, cfg.large])].sort((a, b) => a - b).map(formatSize).join(', ');
  out(`Sizes: ingest, browser and resume ${formatSize(cfg.size)}; memory ${memorySizes}; finalize ${formatSize(cfg.size)} and ${formatSize(cfg.large)}; chunk ${formatSize(cfg.chunk)}. ` +
    `Runs: ingest ${cfg.runs} per variant (round-robin), finalize ${cfg.finalizeRuns} (${formatSize(cfg.large)}: ${cfg.largeRuns}), ` +
    `browser uploads ${cfg.browserRuns} per client, in-page hashing ${cfg.hashRuns} pairs. Every figure is a median. ` +
    `Before each measurement: ${cfg.pages === 'recycled' ? 'a file of the measured size written and deleted (recycled pages), then ' : ''}\`sync\`, then ${cfg.idleMs / 1000} s idle.`);
  out();
}

// ---- (1) server ingest ------------------------------------------------------------------------------

async function benchIngest(cfg, work, serverBin, cliBin) {
  const source = join(work, 'ingest-source.bin');
  await writeRandomFile(source, cfg.size);
  warmFile(source);
  const size = cfg.size;
  const variants = [];
  for (const streams of [1, 4]) {
    variants.push(`ours-nosync:${streams}`, `ours-durable:${streams}`, `nginx:${streams}`, `tus:${streams}`, `tus-ours:${streams}`, `cli:${streams}`);
  }
  variants.push('curl:1', 'b2sum', 'dd', 'dd-direct');
  const verified = new Set();
  const measure = async (variant) => {
    const [kind, s] = variant.split(':');
    const streams = Number(s ?? 1);
    await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
    const verifyStored = !verified.has(variant);
    verified.add(variant);
    if (kind.startsWith('ours')) {
      const server = await startOurServer(serverBin, join(work, 'ours'), { durable: kind === 'ours-durable' });
      try {
        return await uploadToOurs(server, { path: source, size, chunkSize: cfg.chunk, parallel: streams, identifier: `ingest-${variant}`, verifyStored });
      } finally {
        await server.stop();
        rmSync(join(work, 'ours'), { recursive: true, force: true });
      }
    }
    if (kind === 'tus-ours') {
      const server = await startOurServer(serverBin, join(work, 'ours'), { durable: false, extra: ['--tus-path', '/files'] });
      try {
        return await uploadToOursTus(server, { path: source, size, chunkSize: cfg.chunk, parallel: streams, verifyStored });
      } finally {
        await server.stop();
        rmSync(join(work, 'ours'), { recursive: true, force: true });
      }
    }
    if (kind === 'cli') {
      const server = await startOurServer(serverBin, join(work, 'ours'), { durable: false });
      try {
        return await uploadWithCli(server, { cli: cliBin, path: source, size, chunkSize: cfg.chunk, parallel: streams, verifyStored });
      } finally {
        await server.stop();
        rmSync(join(work, 'ours'), { recursive: true, force: true });
      }
    }
    if (kind === 'nginx' || kind === 'curl') {
      const nginx = await startNginx(join(work, 'nginx'));
      try {
        if (kind === 'curl') return await uploadWithCurl(nginx, { path: source, size, chunkSize: cfg.chunk, run: `r${Date.now()}` });
        return await uploadToNginx(nginx, { path: source, size, chunkSize: cfg.chunk, parallel: streams, run: `r${Date.now()}` });
      } finally {
        await nginx.stop();
        rmSync(join(work, 'nginx'), { recursive: true, force: true });
      }
    }
    if (kind === 'tus') {
      const dataDir = join(work, 'tus');
      const tus = await startTus(dataDir);
      try {
        return await uploadToTus(tus, { path: source, size, chunkSize: cfg.chunk, parallel: streams, dataDir });
      } finally {
        await tus.stop();
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    if (kind === 'b2sum') return timeB2sum(source);
    if (kind === 'dd') return timeDd(source, work);
    if (kind === 'dd-direct') return timeDd(source, work, true);
    throw new Error(variant);
  };
  const raw = await rounds(cfg.runs, variants, measure);
  rmSync(source, { force: true });
  const summary = {};
  for (const [variant, runs] of raw) {
    summary[variant] = {
      rate: median(runs.map((r) => size / MiB / r.seconds)),
      hwm: median(runs.map((r) => r.hwm)),
      hwmMax: Math.max(...runs.map((r) => r.hwm ?? NaN)),
      cpu: median(runs.map((r) => r.cpu / (size / GiB))),
      clientCpu: median(runs.map((r) => r.clientCpu / (size / GiB))),
      rates: runs.map((r) => Math.round(size / MiB / r.seconds)),
    };
  }
  const names = {
    'ours-nosync': 'our server, per-chunk fsync off', 'ours-durable': 'our server, durable (default: fdatasync per chunk)',
    nginx: 'nginx WebDAV PUT (no hashing)', tus: '@tus/server + file-store (tus-js-client; no checksum)',
    'tus-ours': 'our server\'s tus front-end (tus-js-client; final digest checked), fsync off',
    cli: '`resumable upload` (native client) into our server, fsync off', curl: '`curl -T` of the whole file into nginx WebDAV',
  };
  out(`### 1. Server ingest: ${formatSize(size)} random file, ${formatSize(cfg.chunk)} chunks, from node on 127.0.0.1`);
  out();
  out('Ours: raw POSTs with `chunkDigest` and `fileDigest`, every chunk and the file verified by the server; the stored file is also checked with `b2sum` (first run, outside the timing). ' +
    'nginx: each chunk PUT to its own file; tus: one upload with 8 MiB PATCHes per stream (4 streams = 4 concurrent uploads of a quarter each: @tus/file-store has no concatenation); the same client into our tus front-end, 4 streams by `parallelUploads: 4` (concatenation), the final `Upload-File-Digest` checked against the file\'s. ' +
    'The native clients run as their own processes: `resumable upload --parallel N` (reads, hashes and sends every byte, checks the final digest) into our server, and `curl -T` (one PUT, no hashing) into nginx; their client CPU is the command\'s own user+system time (bash `times`). ' +
    'Peak RSS: the server process\'s VmHWM after the run (nginx: master + workers, summed). CPU: server (and client) user+system CPU seconds per GiB.');
  out();
  const rows = [];
  for (const streams of [1, 4]) {
    const base = summary[`nginx:${streams}`]?.rate;
    for (const kind of ['ours-nosync', 'ours-durable', 'nginx', 'tus', 'tus-ours', 'cli', ...(streams === 1 ? ['curl'] : [])]) {
      const s = summary[`${kind}:${streams}`];
      rows.push([names[kind], streams, f0(s.rate), ratio(s.rate, base), mib(s.hwm), f2(s.cpu), f2(s.clientCpu), s.rates.join(', ')]);
    }
  }
  for (const [kind, name] of [['b2sum', '`b2sum -l 256` of the file (hashing ceiling)'], ['dd', '`dd bs=8M` into a new file (page-cache write ceiling)'], ['dd-direct', '`dd bs=8M oflag=direct` into a new file (no page cache)']]) {
    const s = summary[kind];
    rows.push([name, 1, f0(s.rate), ratio(s.rate, summary['nginx:1']?.rate), '', Number.isFinite(s.cpu) ? f2(s.cpu) : '', '', s.rates.join(', ')]);
  }
  table(['what', 'streams', 'MiB/s', 'vs nginx (same streams)', 'peak RSS MiB', 'server CPU s/GiB', 'client CPU s/GiB', 'all runs MiB/s'], rows);

  const ours1 = summary['ours-nosync:1'].rate;
  const ours4 = summary['ours-nosync:4'].rate;
  target('ingest, 1 stream ≥ 1.0× nginx PUT', `${f0(ours1)} vs ${f0(summary['nginx:1'].rate)} MiB/s = ${ratio(ours1, summary['nginx:1'].rate)}`, ours1 >= summary['nginx:1'].rate);
  target('ingest, 1 stream ≥ 1.3× @tus/server', `${f0(ours1)} vs ${f0(summary['tus:1'].rate)} MiB/s = ${ratio(ours1, summary['tus:1'].rate)}`, ours1 >= 1.3 * summary['tus:1'].rate);
  target('ingest, 4 streams ≥ 1.0× nginx\'s four', `${f0(ours4)} vs ${f0(summary['nginx:4'].rate)} MiB/s = ${ratio(ours4, summary['nginx:4'].rate)}`, ours4 >= summary['nginx:4'].rate);
  // Issue 12: one hash pass per byte, so a verified GiB costs about what hashing it once and receiving it cost.
  const cpuBudget = 1.1 * (summary.b2sum.cpu + summary['nginx:1'].cpu);
  target('server CPU per verified GiB ≤ 1.1 × (b2sum + nginx), 1 stream', `${f2(summary['ours-nosync:1'].cpu)} vs ${f2(cpuBudget)} s/GiB (b2sum ${f2(summary.b2sum.cpu)}, nginx ${f2(summary['nginx:1'].cpu)})`,
    summary['ours-nosync:1'].cpu <= cpuBudget);
  target('server CPU per verified GiB ≤ 1.1 × (b2sum + nginx), 4 streams', `${f2(summary['ours-nosync:4'].cpu)} vs ${f2(1.1 * (summary.b2sum.cpu + summary['nginx:4'].cpu))} s/GiB`,
    summary['ours-nosync:4'].cpu <= 1.1 * (summary.b2sum.cpu + summary['nginx:4'].cpu));
  target('ingest, 1 stream, digests verified ≥ 0.9× b2sum\'s rate', `${f0(ours1)} vs ${f0(summary.b2sum.rate)} MiB/s = ${ratio(ours1, summary.b2sum.rate)}`, ours1 >= 0.9 * summary.b2sum.rate);
  for (const streams of [1, 4]) {
    const ourTus = summary[`tus-ours:${streams}`].rate;
    const theirs = summary[`tus:${streams}`].rate;
    target(`tus-js-client, ${streams} stream${streams > 1 ? 's' : ''}: our tus front-end (digest verified) ≥ 1.3× @tus/server`,
      `${f0(ourTus)} vs ${f0(theirs)} MiB/s = ${ratio(ourTus, theirs)}`, ourTus >= 1.3 * theirs);
  }
  const cli1 = summary['cli:1'].clientCpu;
  const curl = summary['curl:1'].clientCpu;
  target('CLI client CPU per GiB ≤ curl\'s', `${f2(cli1)} vs ${f2(curl)} s/GiB (1 stream; 4 streams ${f2(summary['cli:4'].clientCpu)}; ` +
    `hashing each byte once, b2sum: ${f2(summary.b2sum.cpu)})`, cli1 <= curl);
  target('ingest ≥ 0.9× a plain `dd` copy', `best of ours ${f0(Math.max(ours1, ours4))} vs dd ${f0(summary.dd.rate)} MiB/s = ${ratio(Math.max(ours1, ours4), summary.dd.rate)}`,
    Math.max(ours1, ours4) >= 0.9 * summary.dd.rate);
  return summary;
}

// ---- (2) memory flatness --------------------------------------------------------------------------

async function benchMemory(cfg, work, serverBin) {
  const sizes = [...new Set([cfg.small, cfg.size, cfg.large])].sort((a, b) => a - b);
  const threadCounts = [4, 32];
  const rows = [];
  const byThreads = {};
  for (const threads of threadCounts) {
    byThreads[threads] = {};
    for (const size of sizes) {
      const source = join(work, `memory-${size}.bin`);
      writeMarkedSparseFile(source, size);
      warmFile(source);
      await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
      const server = await startOurServer(serverBin, join(work, 'ours'), { durable: false, threads });
      let r;
      try {
        r = await uploadToOurs(server, { path: source, size, chunkSize: cfg.chunk, parallel: 4, identifier: `memory-${size}-${threads}`, verifyStored: threads === threadCounts[0] });
      } finally {
        await server.stop();
        rmSync(join(work, 'ours'), { recursive: true, force: true });
        rmSync(source, { force: true });
      }
      byThreads[threads][size] = r.hwm;
      rows.push([formatSize(size), threads, mib(r.hwm), mib(r.rss), f0(size / MiB / r.seconds)]);
    }
  }
  out(`### 2. Memory flatness: our server's peak RSS by file size`);
  out();
  out(`Sparse sources (4 KiB of random bytes at every MiB), ${formatSize(cfg.chunk)} raw chunks, 4 in parallel, digests verified, fsync off; a fresh server per row. ` +
    'CivetWeb worker threads: 4 (as many as parallel requests) and 32 (the test server\'s default): body buffers come from the endpoint\'s pool; each worker that has served a request keeps its stack pages.');
  out();
  table(['file size', 'worker threads', 'peak RSS (VmHWM) MiB', 'RSS after MiB', 'MiB/s'], rows);
  const peak = Math.max(...Object.values(byThreads).flatMap((m) => Object.values(m)));
  target('server peak RSS ≤ 16 MiB', `max ${mib(peak)} MiB over all sizes and thread counts`, peak <= 16 * MiB);
  for (const threads of threadCounts) {
    const small = byThreads[threads][sizes[0]];
    const large = byThreads[threads][sizes[sizes.length - 1]];
    target(`flat: ${formatSize(sizes[sizes.length - 1])} within 1 MiB of ${formatSize(sizes[0])} (${threads} threads)`,
      `${mib(large)} vs ${mib(small)} MiB (${large >= small ? '+' : ''}${mib(large - small)})`, Math.abs(large - small) <= MiB);
  }
  return byThreads;
}

// ---- (3) finalize latency ---------------------------------------------------------------------------

// One stream with chunks in order, and four streams with the chunks shuffled and chunk 1 last (so no
// chunk is in line before the end: the old whole-file hash read every other chunk back then). For
// each chunk, t = reply fully read − last body byte handed to the kernel. Finalize latency = t of the
// reply that carried the final result − median t of the 16 replies completed before it: what
// completing the upload (file digest, record, release) adds to that reply.
function shuffledChunkOneLast(count, seed) {
  const order = Array.from({ length: count - 1 }, (_, i) => i + 2);
  let x = seed >>> 0 || 1;
  for (let i = order.length - 1; i > 0; --i) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const j = x % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return [...order, 1];
}

async function benchFinalize(cfg, work, serverBin) {
  const sizes = [...new Set([cfg.size, cfg.large])].sort((a, b) => a - b);
  const rows = [];
  const summary = {};
  for (const [streams, shuffled] of [[1, false], [4, true]]) {
    for (const durable of [false, true]) {
      for (const size of sizes) {
        const source = join(work, `finalize-${size}.bin`);
        writeMarkedSparseFile(source, size);
        warmFile(source);
        const runs = size > GiB ? cfg.largeRuns : cfg.finalizeRuns;
        const count = Math.max(1, Math.floor(size / cfg.chunk));
        const finals = [];
        const lasts = [];
        const bases = [];
        for (let run = 0; run < runs; ++run) {
          await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
          const server = await startOurServer(serverBin, join(work, 'ours'), { durable });
          try {
            const r = await uploadToOurs(server, { path: source, size, chunkSize: cfg.chunk, parallel: streams, identifier: `finalize-${size}-${run}`,
              verifyStored: run === 0 && !durable, order: shuffled ? shuffledChunkOneLast(count, run + 1) : null });
            const byCompletion = [...r.replies].sort((a, b) => a.doneAt - b.doneAt);
            const at = byCompletion.findIndex((x) => x.body.status === 'complete');
            const times = byCompletion.map((x) => x.doneAt - x.sentAt);
            const last = times[at];
            const base = at > 0 ? median(times.slice(Math.max(0, at - 16), at)) : 0;
            finals.push(last - base);
            lasts.push(last);
            bases.push(base);
          } finally {
            await server.stop();
            rmSync(join(work, 'ours'), { recursive: true, force: true });
          }
        }
        rmSync(source, { force: true });
        const key = `${streams}:${durable ? 'durable' : 'nosync'}:${size}`;
        summary[key] = median(finals);
        summary[`${key}:reply`] = median(lasts);
        rows.push([shuffled ? `${streams} streams, shuffled, chunk 1 last` : `${streams} stream, in order`, durable ? 'durable (default)' : 'fsync off',
          formatSize(size), f1(median(finals)), f1(median(lasts)), f1(median(bases)), finals.map((x) => f1(x)).join(', ')]);
      }
    }
  }
  out('### 3. Finalize latency after the last chunk');
  out();
  out('Digests verified. One stream with chunks in order; four streams with the chunks shuffled and chunk 1 sent last, so that every other chunk is stored ahead of the digest frontier. ' +
    'For each chunk, t = (its reply fully read) − (its last body byte handed to the kernel). Finalize latency = t of the reply that carried the final result − median t of the 16 replies completed before it: ' +
    'what completing the upload (file digest from the recorded leaves, final record, release by rename) adds to that reply.');
  out();
  table(['streams and order', 'server', 'file size', 'finalize ms', 'final reply t ms', 'other replies t ms', 'all runs ms'], rows);
  const small = sizes[0];
  const large = sizes[sizes.length - 1];
  for (const mode of ['nosync', 'durable']) {
    const label = mode === 'nosync' ? 'fsync off' : 'durable';
    const atLarge = summary[`1:${mode}:${large}`];
    const atSmall = summary[`1:${mode}:${small}`];
    target(`finalize ≤ 50 ms at ${formatSize(large)} and independent of size (1 stream, in order, ${label})`,
      `${f1(atLarge)} ms at ${formatSize(large)}, ${f1(atSmall)} ms at ${formatSize(small)}`, atLarge <= 50 && Math.abs(atLarge - atSmall) <= 10,
      'independent: within 10 ms of the smaller size');
    // With four streams the other replies share the machine with three more, so their median is no
    // baseline: the whole final reply (last buffers hashed, record, file digest, release) is judged.
    const replyLarge = summary[`4:${mode}:${large}:reply`];
    const replySmall = summary[`4:${mode}:${small}:reply`];
    target(`four streams out of order: the final reply ≤ 50 ms at ${formatSize(large)} (${label})`,
      `${f1(replyLarge)} ms at ${formatSize(large)}, ${f1(replySmall)} ms at ${formatSize(small)}`, replyLarge <= 50);
  }
  return summary;
}

// ---- (7) past one machine: instances behind nginx over PostgreSQL, the S3 store (issue 17) ---------

// Variant `${deployment}:${uploads at once}`: all of cfg.uploads files at once (one chunk in flight
// each), or the same files one after the other (one stream). Deployments: lib/scaleout.mjs.
async function benchScaleout(cfg, work, serverBin) {
  const { uploads, uploadSize: size, chunk: chunkSize } = cfg;
  const total = uploads * size;
  const sources = [];
  for (let i = 1; i <= uploads; ++i) {
    const path = join(work, `scaleout-${i}.bin`);
    await writeRandomFile(path, size);
    warmFile(path);
    await chunkDigests(path, size, chunkSize);  // computed once, outside every timing
    sources.push(path);
  }
  const variants = [`fs:1`, `fs:${uploads}`, `fs-pg:${uploads}`, `fs-pg-nginx1:${uploads}`, `fs-pg-nginx3:${uploads}`,
    `s3:1`, `s3:${uploads}`, `s3-pg-nginx3:${uploads}`];
  const verified = new Set();
  let serial = 0;
  const measure = async (variant) => {
    const [kind, atOnce] = variant.split(':');
    await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: total } : null);
    const deployment = await startDeployment(kind, { serverBin, workDir: join(work, 'deployment'), serial: ++serial });
    try {
      const send = (path, i) => sendChunks(deployment.target, { path, size, chunkSize, parallel: 1, identifier: `scaleout-${serial}-${i + 1}` });
      const cpu0 = deployment.cpu();
      const client0 = ownCpuSeconds();
      const started = performance.now();
      let sent;
      if (Number(atOnce) > 1) sent = await Promise.all(sources.map(send));
      else {
        sent = [];
        for (const [i, path] of sources.entries()) sent.push(await send(path, i));
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu1 = deployment.cpu();
      const clientCpu = ownCpuSeconds() - client0;
      const hwm = deployment.peakRss();
      const requests = await deployment.chunkRequests();
      // Outside the timing: each upload claimed (through the same entry point), its stored bytes
      // checked once per variant, then deleted.
      const verify = !verified.has(variant);
      verified.add(variant);
      for (const s of sent) await claimAndCheck(deployment.target, { final: s.final, plainDigest: s.plainDigest, verify, stored: deployment.stored });
      const cpu = Object.fromEntries(Object.keys(cpu1).map((part) => [part, cpu1[part] - cpu0[part]]));
      return { seconds, cpu, clientCpu, hwm, requests };
    } finally {
      await deployment.stop();
      if (DEPLOYMENTS[kind].store === 's3') collectS3Garbage();
    }
  };
  const raw = await rounds(cfg.runs, variants, measure);
  for (const path of sources) rmSync(path, { force: true });
  const gib = total / GiB;
  const summary = {};
  for (const [variant, runs] of raw) {
    const perGiB = (pick) => median(runs.map((r) => pick(r) / gib));
    const all = (r) => Object.values(r.cpu).reduce((a, b) => a + b, 0) + r.clientCpu;
    summary[variant] = {
      rate: median(runs.map((r) => total / MiB / r.seconds)),
      rates: runs.map((r) => Math.round(total / MiB / r.seconds)),
      ours: perGiB((r) => r.cpu.ours), nginx: perGiB((r) => r.cpu.nginx), postgresql: perGiB((r) => r.cpu.postgresql),
      radosgw: perGiB((r) => r.cpu.radosgw), osd: perGiB((r) => r.cpu.osd), client: perGiB((r) => r.clientCpu), all: perGiB(all),
      hwm: median(runs.map((r) => r.hwm)),
      requests: runs[runs.length - 1].requests,
    };
  }
  const reference = summary[`fs:${uploads}`].rate;
  const name = (variant) => DEPLOYMENTS[variant.split(':')[0]].name;
  const atOnce = (variant) => (variant.endsWith(':1') ? `1 (the ${uploads} one after another)` : String(uploads));
  const row = (variant, parts) => {
    const s = summary[variant];
    return [name(variant), atOnce(variant), f0(s.rate), ratio(s.rate, reference), ...parts.map((p) => f2(s[p])), f2(s.client), f2(s.all),
      f0(2 / s.all * 1024), mib(s.hwm), s.requests.join(' / '), s.rates.join(', ')];
  };
  const regime = cfg.pages === 'recycled'
    ? `a file of ${formatSize(total)} written and deleted just before each run (recycled pages)`
    : 'no pages freed just before a run (fresh pages: every run writes into a new data directory)';
  out(`### 7. Past one machine: ${uploads} uploads of ${formatSize(size)} at once, ${formatSize(chunkSize)} chunks (issue 17)`);
  out();
  out(`${uploads} random files of ${formatSize(size)}, uploaded by raw chunk POSTs from this node process (as in §1: chunk and file digests, one chunk in flight per upload), ` +
    `all at once or one after another; MiB/s is the aggregate (${formatSize(total)} over the wall time from the first request to the last reply). Every deployment is fresh for its run ` +
    '(instances, nginx, database, data directory or bucket prefix); each upload is claimed afterwards and its stored bytes checked once per variant (outside the timing). ' +
    'fsync off (`--durable 0`). CPU: user + system seconds per GiB from /proc: ours = all instances summed; nginx = master and workers; PostgreSQL = postmaster, its live processes ' +
    'and the backends it reaped; radosgw and ceph-osd likewise (they run throughout, so rows that do not use them show their idle cost); client = this node process; ' +
    `all = the sum, and "2-core ceiling" = 2 CPU-s per second / all, the rate at which this run's work would fill both cores. Pages: ${regime}.`);
  out();
  const head = ['deployment', 'uploads at once', 'MiB/s', `vs one instance, no registry (${uploads} at once)`];
  const tail = ['client CPU s/GiB', 'all CPU s/GiB', '2-core ceiling MiB/s', 'peak RSS per instance MiB', 'chunk requests per instance (last run)', 'all runs MiB/s'];
  out('Filesystem store:');
  out();
  table([...head, 'ours CPU s/GiB', 'nginx', 'PostgreSQL', ...tail],
    [`fs:${uploads}`, `fs-pg:${uploads}`, `fs-pg-nginx1:${uploads}`, `fs-pg-nginx3:${uploads}`].map((v) => row(v, ['ours', 'nginx', 'postgresql'])));
  out('S3 store next to the filesystem store:');
  out();
  table([...head, 'ours CPU s/GiB', 'radosgw', 'ceph-osd', 'nginx', 'PostgreSQL', ...tail],
    ['fs:1', `fs:${uploads}`, 's3:1', `s3:${uploads}`, `s3-pg-nginx3:${uploads}`].map((v) => row(v, ['ours', 'radosgw', 'osd', 'nginx', 'postgresql'])));
  return summary;
}

// ---- (4) browser, (5) resume, (6) size -----------------------------------------------------------------

async function benchBrowser(cfg, work, serverBin, want) {
  const result = {};
  const server = await startOurServer(serverBin, join(work, 'browser-ours'), { durable: false, extra: ['--document-root', root, '--allow-anonymous'] });
  const tus = await startTus(join(work, 'browser-tus'));
  const browser = await launchBrowser();
  try {
    if (want('hash')) result.hash = await benchHash(cfg, work, server, browser);
    if (want('browser')) result.e2e = await benchE2e(cfg, work, server, tus, browser);
    if (want('resume')) result.resume = await benchResume(cfg, work, server, browser);
    if (want('size')) result.size = await benchSize(server);
  } finally {
    await browser.close();
    await server.stop();
    await tus.stop();
  }
  return result;
}

const VARIANTS = ['project', 'libsodium-ref', 'simd128', 'O2', 'lto', 'link-O1'];

async function benchHash(cfg, work, server, browser) {
  let nodeVariants = null;
  await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
  const served = await hashBench(browser, server, { bytes: cfg.hashBytes, runs: cfg.hashRuns, breakdown: true });
  const variants = {};
  if (cfg.wasmVariants) {
    const build = dirname(dirname(process.env.RESUMABLE_TEST_SERVER_BIN));
    const variantsDir = join(build, 'bench-wasm');
    // Reused only if built from the current core: each variant must export what this build exports.
    const exportsOf = (dir) => new Set(readFileSync(join(dir, 'resumable_core.js'), 'utf8').match(/_rsm_\w+/g) ?? []);
    const current = exportsOf(process.env.RESUMABLE_WASM_DIR);
    const built = VARIANTS.every((v) => existsSync(join(variantsDir, v, 'resumable_core.wasm')) &&
      [...current].every((name) => exportsOf(join(variantsDir, v)).has(name)));
    if (cfg.wasmVariants === 'reuse' && !built) console.log('bench: the wasm variants in bench-wasm predate this core: rebuilding them');
    if (!(cfg.wasmVariants === 'reuse' && built)) {
      execFileSync('bash', [join(here, 'wasm_variants.sh'), build, variantsDir], { stdio: 'inherit', env: { ...process.env, VARIANTS: VARIANTS.join(' ') } });
    }
    for (const variant of VARIANTS) {
      await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
      variants[variant] = await hashBench(browser, server, { bytes: cfg.hashBytes, runs: cfg.hashRuns, variant, variantsDir });
    }
    // The same variants in node, timed in CPU seconds: far less disturbed by other load than wall time.
    await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
    const node = execFileSync(process.execPath, [join(here, 'wasm_hash_node.mjs'), variantsDir, '64', '15', ...VARIANTS],
      { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n');
    nodeVariants = JSON.parse(node[node.length - 1]);
  }
  out('### 4a. BLAKE2b-256 in Chromium: the wasm core vs hash-wasm, same page, same bytes');
  out();
  out(`${formatSize(cfg.hashBytes)} of random bytes in memory, fed in 16 MiB slices (as the widget's Worker reads files); ${cfg.hashRuns} alternating pairs; ` +
    'the ratio is the median of each pair\'s ratio (the two runs of a pair are adjacent in time).');
  out();
  const rows = [['wasm core as served (/upload/widget/)', f0(served.core), f0(served.hashWasm), f2(served.ratio), '', '']];
  for (const [name, r] of Object.entries(variants)) {
    const n = nodeVariants?.[name];
    rows.push([`variant \`${name}\` (tests/bench/wasm_variants.sh)`, f0(r.core), f0(r.hashWasm), f2(r.ratio), n ? f0(n.core) : '', n ? f2(n.ratio) : '']);
  }
  table(['core build', 'Chromium: core MiB/s', 'hash-wasm MiB/s', 'core / hash-wasm', 'node, CPU time: core MiB/s', 'core / hash-wasm'], rows);
  out(`The served core feeding two states (chunk and file, as the Worker does): ${f0(served.coreTwoHashers)} MiB/s of hashing, i.e. ${f0(served.coreTwoHashers / 2)} MiB/s of file.`);
  out();
  const staging = Object.entries(served.staging).map(([piece, s]) => [formatSize(Number(piece)), f0(s.both), f0(s.copy), f0(s.hash)]);
  out('Where the time goes (served core, staging buffer managed by the page through the C ABI):');
  out();
  table(['staging piece', 'copy + hash MiB/s', 'copy into wasm memory only MiB/s', 'hash only (no copy) MiB/s'], staging);
  target('wasm BLAKE2b ≥ 1.0× hash-wasm (as served)', `${f2(served.ratio)}× (${f0(served.core)} vs ${f0(served.hashWasm)} MiB/s)`, served.ratio >= 1.0);
  if (variants['libsodium-ref']) {
    out(`Variant \`project\` (patched blake2b_update, as served) vs the unpatched control \`libsodium-ref\`: ${f2(variants.project.ratio)}× vs ${f2(variants['libsodium-ref'].ratio)}× of hash-wasm.`);
    out();
  }
  // The widget's own hashing: its Worker pool reading a file from disk, with one Worker and with two.
  const path = join(work, 'widget-hash-source.bin');
  await writeRandomFile(path, cfg.hashBytes + 12345);
  warmFile(path);
  await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
  const pool = await widgetHashBench(browser, server, { file: { path, size: cfg.hashBytes + 12345 }, runs: cfg.hashRuns });
  if (pool.digest !== treeDigest(path)) throw new Error(`the widget's digest ${pool.digest} is not the file's`);
  rmSync(path, { force: true });
  out('### 4b. The widget\'s hashing: its Worker pool with one Worker and with two');
  out();
  out(`A ${formatSize(cfg.hashBytes + 12345)} file read from disk by the Workers (\`ResumableWidget.hashFile\`, 4 MiB chunks, tree digest: one pass per byte); ${cfg.hashRuns} alternating pairs, the ratio is the median of each pair's ratio.`);
  out();
  table(['Workers', 'MiB/s (median)', 'all runs MiB/s'], [1, 2].map((n) => [n, f0(pool.rates[n]), pool.samples[n].map((x) => Math.round(x)).join(', ')]));
  target('widget hashing: two Workers ≥ 1.6× one Worker (2 cores)', `${f2(pool.ratio)}× (${f0(pool.rates[2])} vs ${f0(pool.rates[1])} MiB/s)`, pool.ratio >= 1.6);
  return { served, variants, nodeVariants, pool };
}

async function benchE2e(cfg, work, server, tus, browser) {
  const path = join(work, 'browser-source.bin');
  await writeRandomFile(path, cfg.size);
  const file = { path, size: cfg.size, digest: treeDigest(path), plain: b2sum256(path) };
  warmFile(path);
  const clients = ['widget', 'resumable', 'tus', 'widget-hash'];
  const raw = await rounds(cfg.browserRuns, clients, async (client) => {
    await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
    const r = await uploadInBrowser(browser, { client, server, tusServer: tus, file, chunkSize: cfg.chunk, parallel: cfg.browserParallel });
    if (r.storedPath) rmSync(r.storedPath, { force: true });
    if (r.tusUrl) {
      const id = new URL(r.tusUrl).pathname.split('/').pop();
      const stored = join(work, 'browser-tus', id);
      if (b2sum256(stored) !== file.plain) throw new Error('tus stored different bytes');
      rmSync(stored, { force: true });
      rmSync(`${stored}.json`, { force: true });
    }
    return r;
  });
  rmSync(path, { force: true });
  const names = {
    widget: `our widget (hashing in its Worker, ${cfg.browserParallel} parallel, digests verified)`,
    resumable: `resumable.js 1.1.0 (octet, ${cfg.browserParallel} parallel, testChunks off, no hashing)`,
    tus: 'tus-js-client 4 → @tus/server (1 stream: file-store cannot concatenate)',
    'widget-hash': 'for reference: the widget\'s hashing alone (`ResumableWidget.hashFile`: its Worker pool reads the file and makes the tree digest), no upload',
  };
  const summary = {};
  for (const [client, runs] of raw) {
    summary[client] = {
      rate: median(runs.map((r) => cfg.size / MiB / r.seconds)),
      longTaskTotal: median(runs.map((r) => r.longTaskTotal)),
      longTaskMax: Math.max(...runs.map((r) => r.longTaskMax)),
      rates: runs.map((r) => Math.round(cfg.size / MiB / r.seconds)),
      cpuPerGiB: median(runs.map((r) => r.machineCpu / (cfg.size / GiB))),
    };
  }
  out(`### 4b. End-to-end upload of ${formatSize(cfg.size)} from Chromium`);
  out();
  out(`Same server process for the widget and resumable.js (fsync off), ${formatSize(cfg.chunk)} chunks; the clock runs from handing the file over to the client's success event. ` +
    'Long tasks: PerformanceObserver `longtask` entries on the page\'s main thread during the upload. ' +
    'CPU: user + system seconds per GiB of every process the benchmark started (Chromium\'s, the servers\') during the upload: what the upload costs the 2-core machine.');
  out();
  table(['client', 'MiB/s', 'vs resumable.js', 'vs tus', 'CPU s/GiB (Chromium + server)', 'main-thread long tasks: total ms', 'longest ms', 'all runs MiB/s'],
    clients.map((c) => [names[c], f0(summary[c].rate), ratio(summary[c].rate, summary.resumable.rate), ratio(summary[c].rate, summary.tus.rate),
      summary[c].cpuPerGiB.toFixed(2), f0(summary[c].longTaskTotal), f0(summary[c].longTaskMax), summary[c].rates.join(', ')]));
  target('widget e2e ≥ 1.0× unhashed resumable.js', `${f0(summary.widget.rate)} vs ${f0(summary.resumable.rate)} MiB/s = ${ratio(summary.widget.rate, summary.resumable.rate)}`,
    summary.widget.rate >= summary.resumable.rate);
  target('widget e2e ≥ 1.3× tus-js-client → @tus/server', `${f0(summary.widget.rate)} vs ${f0(summary.tus.rate)} MiB/s = ${ratio(summary.widget.rate, summary.tus.rate)}`,
    summary.widget.rate >= 1.3 * summary.tus.rate);
  target('no main-thread long task over 200 ms (widget)', `longest ${f0(summary.widget.longTaskMax)} ms, total ${f0(summary.widget.longTaskTotal)} ms`, summary.widget.longTaskMax <= 200);
  return summary;
}

async function benchResume(cfg, work, server, browser) {
  const path = join(work, 'resume-source.bin');
  await writeRandomFile(path, cfg.size);
  const file = { path, size: cfg.size, digest: treeDigest(path) };
  warmFile(path);
  const summary = {};
  for (const client of ['widget', 'resumable']) {
    await settle(cfg.idleMs, cfg.pages === 'recycled' ? { dir: work, bytes: cfg.size } : null);
    const r = await resumeAfterCut(browser, { client, server, file, chunkSize: cfg.resumeChunk, parallel: cfg.browserParallel });
    rmSync(r.storedPath, { force: true });
    summary[client] = r;
  }
  rmSync(path, { force: true });
  out(`### 5. Resume after a cut at 50%: ${formatSize(cfg.size)}, ${formatSize(cfg.resumeChunk)} chunks, ${cfg.browserParallel} parallel`);
  out();
  out('Once half the chunks are acknowledged, the page is closed as it issues its next chunk POST (so that chunk, and any other still sending, is cut mid-body); a fresh page takes the same file. ' +
    'Counted on the second page: every request to the endpoint; re-sent bytes = body bytes of chunks the first page had already begun sending (stored or in flight at the cut).');
  out();
  const names = { widget: 'our widget (one status request)', resumable: 'resumable.js 1.1.0 (testChunks: a GET per chunk)' };
  table(['client', 'chunks', 'acknowledged at the cut', 'begun before the cut', 'requests to finish', 'of which status / test GETs', 'chunk POSTs', 're-sent MiB', 'bytes sent MiB'],
    Object.entries(summary).map(([c, r]) => [names[c], r.chunkCount, r.acknowledgedAtCut, r.begunBeforeCut, r.requests, r.probeRequests, r.chunkPosts, mib(r.resentBytes), mib(r.sentBytes)]));
  const w = summary.widget;
  target('resume in one request; re-sent bytes ≤ parallel × chunk size', `${w.probeRequests} status request(s), ${mib(w.resentBytes)} MiB re-sent (budget ${mib(cfg.browserParallel * cfg.resumeChunk)} MiB)`,
    w.probeRequests === 1 && w.resentBytes <= cfg.browserParallel * cfg.resumeChunk);
  return summary;
}

async function benchSize(server) {
  const rows = await widgetSizes(server, root);
  out('### 6. What a page downloads');
  out();
  table(['what', 'files', 'raw KiB', 'gzip -9 KiB'], rows.map((r) => [r.name, r.files, f1(r.raw / 1024), f1(r.gzip / 1024)]));
  return rows;
}

// ---- targets, smoke check, docs ------------------------------------------------------------------------

function reportTargets(smoke) {
  if (targets.length === 0) return;
  out(smoke ? '### Targets (not judged in a smoke run: sizes too small)' : '### Targets');
  out();
  table(['target', 'measured', smoke ? 'would be' : 'verdict'], targets.map((t) => [t.name + (t.detail ? ` (${t.detail})` : ''), t.measured, t.pass ? 'pass' : '**FAIL**']));
}

function checkSmoke(results, want) {
  const missing = [];
  const need = (name, value) => { if (!Number.isFinite(value)) missing.push(name); };
  for (const [k, v] of Object.entries(results.ingest ?? {})) need(`ingest ${k}`, v.rate);
  for (const [t, m] of Object.entries(results.memory ?? {})) for (const [s, v] of Object.entries(m)) need(`memory ${s}@${t}`, v);
  for (const [k, v] of Object.entries(results.finalize ?? {})) need(`finalize ${k}`, v);
  const b = results.browser ?? {};
  if (b.hash) { need('hash core', b.hash.served.core); need('hash hash-wasm', b.hash.served.hashWasm); }
  for (const [k, v] of Object.entries(b.e2e ?? {})) need(`browser ${k}`, v.rate);
  for (const [k, v] of Object.entries(b.resume ?? {})) need(`resume ${k}`, v.requests);
  for (const r of b.size ?? []) need(`size ${r.name}`, r.gzip);
  for (const [k, v] of Object.entries(results.scaleout ?? {})) need(`scaleout ${k}`, v.rate);
  const sections = { ingest: results.ingest, memory: results.memory, finalize: results.finalize, hash: b.hash, browser: b.e2e,
    resume: b.resume, size: b.size, scaleout: results.scaleout };
  for (const [name, section] of Object.entries(sections)) if (want(name) && !section) missing.push(`the whole section ${name}`);
  return missing;
}

const BEGIN = '<!-- bench:results:begin (written by tests/bench/run.sh; edit the text around it) -->';
const END = '<!-- bench:results:end -->';

function writeReport(path, body) {
  const block = `${BEGIN}\n${body}\n${END}`;
  let text = existsSync(path) ? readFileSync(path, 'utf8') : `# Benchmarks\n\n${BEGIN}\n${END}\n`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, text);
}

main().then((code) => { process.exitCode = code; }, (error) => {
  console.error(`bench: ${error.stack ?? error}`);
  process.exitCode = 1;
});
