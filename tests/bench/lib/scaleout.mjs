// The deployments of the scale-out benchmark (issue 17; docs/BENCHMARKS.md, "Past one machine"):
// one or three resumable_test_server instances, reached directly or through nginx (round-robin,
// no stickiness: balancerConfig of tests/support/nginx.mjs, as in the three-instance test), over
// the filesystem store (one data directory shared by all instances) or the S3 store (the radosgw of
// tests/support/ceph_fixture.sh, one key prefix per deployment), with records beside the data or
// in the PostgreSQL registry of tests/support/postgres_fixture.sh (a fresh database per deployment).
// Runs inside both fixtures (tests/bench/run.sh wraps the run in them for --only scaleout).
// CPU seconds are read from /proc for every process involved: the instances, nginx (master and
// workers), PostgreSQL (postmaster and backends), radosgw and the OSD.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { balancerConfig, startNginx } from '../../support/nginx.mjs';
import { deleteObject, getObject } from '../../scaleout/s3_support.mjs';
import { b2sum256, commandVersion, cpuSecondsOf, memoryOf, treeCpuSeconds } from './common.mjs';
import { startOurServer, storedFile } from './ingest.mjs';

// What each deployment is; the benchmark's variants name them.
export const DEPLOYMENTS = {
  fs: { store: 'filesystem', registry: false, instances: 1, balancer: false,
    name: 'one instance, filesystem store, records beside the data (no registry)' },
  'fs-pg': { store: 'filesystem', registry: true, instances: 1, balancer: false,
    name: 'one instance, filesystem store, PostgreSQL registry' },
  'fs-pg-nginx1': { store: 'filesystem', registry: true, instances: 1, balancer: true,
    name: 'one instance behind nginx, filesystem store, PostgreSQL registry' },
  'fs-pg-nginx3': { store: 'filesystem', registry: true, instances: 3, balancer: true,
    name: 'three instances behind nginx, one shared data directory, PostgreSQL registry' },
  s3: { store: 's3', registry: false, instances: 1, balancer: false,
    name: 'one instance, S3 store (radosgw, memstore), records in the bucket (no registry)' },
  's3-pg-nginx3': { store: 's3', registry: true, instances: 3, balancer: true,
    name: 'three instances behind nginx, S3 store (one bucket prefix), PostgreSQL registry' },
};

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: the scale-out benchmark runs inside tests/support/postgres_fixture.sh and ceph_fixture.sh (tests/bench/run.sh --only scaleout starts both)`);
  return value;
};

const psql = (database, sql) =>
  execFileSync(join(env('RESUMABLE_PG_BINDIR'), 'psql'), [database, '-X', '-A', '-t', '-q', '-c', sql], { encoding: 'utf8' }).trim();

// The engines' processes, read from the fixtures: the postmaster from its data directory's
// postmaster.pid, radosgw and the OSD from the pid files of ceph_fixture.sh.
let postmaster = null;
function postmasterPid() {
  postmaster ??= Number(readFileSync(join(psql(env('RESUMABLE_PG_CONNINFO'), 'SHOW data_directory'), 'postmaster.pid'), 'utf8').split('\n')[0]);
  return postmaster;
}
const cephPid = (daemon) => Number(readFileSync(join(env('RESUMABLE_CEPH_DIR'), `${daemon}.pid`), 'utf8').trim());

// Versions for the report's software table.
export function engineVersions() {
  return [
    ['PostgreSQL (registry)', commandVersion(join(env('RESUMABLE_PG_BINDIR'), 'postgres'))],
    ['Ceph radosgw (S3), memstore OSD', commandVersion('radosgw')],
  ];
}

// CPU seconds so far of every process a deployment may use, by part. The engines run for the whole
// benchmark, so the parts a deployment does not use show their idle cost.
function cpuByPart(instances, nginx) {
  return {
    ours: instances.reduce((sum, s) => sum + cpuSecondsOf(s.pid), 0),
    nginx: nginx ? treeCpuSeconds(nginx.pid) : 0,
    postgresql: treeCpuSeconds(postmasterPid()),
    radosgw: treeCpuSeconds(cephPid('rgw')),
    osd: treeCpuSeconds(cephPid('osd')),
  };
}

// The S3 store's released objects: fetched with curl's own SigV4 and hashed with b2sum, deleted.
function storedObject(workDir) {
  return {
    digest(key) {
      const copy = join(workDir, 'object.bin');
      getObject(key, copy);
      const digest = b2sum256(copy);
      rmSync(copy, { force: true });
      return digest;
    },
    remove: (key) => deleteObject(key),
  };
}

// radosgw keeps deleted objects' data until its garbage collection runs; memstore holds it in RAM
// (ceph_fixture.sh gives it 4 GiB): collected after each S3 run, outside every timing.
export function collectS3Garbage() {
  execFileSync('radosgw-admin', ['-c', join(env('RESUMABLE_CEPH_DIR'), 'ceph.conf'), '-n', 'client.rgw.a', 'gc', 'process', '--include-all'],
    { stdio: 'ignore', timeout: 120000 });
}

// Starts the deployment `kind` (DEPLOYMENTS) in `workDir`; `serial` names its database and prefix.
// Resolves {target (url and output() for the clients), stored (where released files are), cpu(),
// peakRss() (the largest VmHWM of its instances), chunkRequests() (chunk requests each instance
// received), stop()}.
export async function startDeployment(kind, { serverBin, workDir, serial }) {
  const deployment = DEPLOYMENTS[kind];
  if (!deployment) throw new Error(`no deployment ${kind}`);
  const dataDir = join(workDir, 'data');
  const extra = [];
  let database = null;
  if (deployment.registry) {
    const name = `bench_${process.pid}_${serial}`;
    psql(env('RESUMABLE_PG_CONNINFO'), `CREATE DATABASE ${name}`);
    const url = new URL(env('RESUMABLE_PG_CONNINFO'));
    url.pathname = `/${name}`;
    database = name;
    extra.push('--registry', url.href);
  }
  if (deployment.store === 's3') {
    extra.push('--s3-endpoint', env('RESUMABLE_S3_ENDPOINT'), '--s3-bucket', env('RESUMABLE_S3_BUCKET'),
      '--s3-region', env('RESUMABLE_S3_REGION'), '--s3-prefix', `bench-${process.pid}-${serial}/`);
  }
  const instances = [];
  let nginx = null;
  const stop = async () => {
    await nginx?.stop();
    for (const s of instances) await s.stop();
    if (database) psql(env('RESUMABLE_PG_CONNINFO'), `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    // One after the other: the first creates the registry's tables in the fresh database.
    for (let i = 0; i < deployment.instances; ++i) instances.push(await startOurServer(serverBin, dataDir, { durable: false, extra }));
    if (deployment.balancer) nginx = await startNginx(join(workDir, 'nginx'), balancerConfig(instances.map((s) => new URL(s.url).port)));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ...deployment,
    kind,
    instances,
    nginx,
    target: { url: nginx ? nginx.url : instances[0].url, output: () => instances.map((s) => s.output()).join('\n') },
    stored: deployment.store === 's3' ? storedObject(workDir) : storedFile,
    cpu: () => cpuByPart(instances, nginx),
    peakRss: () => Math.max(...instances.map((s) => memoryOf(s.pid).hwm)),
    chunkRequests: () => Promise.all(instances.map(async (s) => (await (await fetch(new URL('test/stats', s.url))).json()).chunkPosts)),
    stop,
  };
}
