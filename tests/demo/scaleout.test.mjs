// The demo's scale-out mode (issue 17, docs/scale-out.md): two demo instances started with
// --database over one PostgreSQL (tests/support/postgres_fixture.sh sets RESUMABLE_PG_CONNINFO) and
// one shared --data-dir are one site. Chromium talks to a round-robin proxy that sends each request
// to the other instance than the last one (no stickiness): the admin logs in (the login form from
// one instance, its post to the other), uploads a file through the widget whose chunks land on both,
// and saves the document on whichever instance gets that post; both instances then list it and
// serve the same bytes. Under tests/support/ceph_fixture.sh too (RESUMABLE_S3_ENDPOINT set;
// demo.scaleout_s3) both instances also take --s3 over one bucket and prefix: the chunks are parts
// and staged objects of one multipart upload that either instance completes, the document's file
// is the released object, and each instance's download streams it from S3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, readdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  launchBrowser, referenceDigest, removeDir, sameBytes, scratchDir, startDemo, writeRandomFile,
} from '../browser/harness.mjs';

const MiB = 1048576;
const FILE_SIZE = 40 * MiB + 4321; // 5 chunks of the form's 8 MiB (the last absorbs the rest)
const ADMIN = 'scaleout-admin';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
const conninfo = process.env.RESUMABLE_PG_CONNINFO;
const s3 = process.env.RESUMABLE_S3_ENDPOINT
  ? ['--s3', process.env.RESUMABLE_S3_ENDPOINT, '--s3-bucket', process.env.RESUMABLE_S3_BUCKET,
    '--s3-region', process.env.RESUMABLE_S3_REGION, '--s3-prefix', `demo-scaleout-${process.pid}/`]
  : [];
let dir, dataDir, instances = [], proxy, browser, filePath, fileDigest;

// Every request goes to the instance after the one that got the previous request. `served` counts,
// per instance, the requests by method and path.
function startRoundRobinProxy(targets) {
  const served = targets.map(() => []);
  let next = 0;
  const server = http.createServer((request, response) => {
    const index = next;
    next = (next + 1) % targets.length;
    served[index].push(`${request.method} ${new URL(request.url, 'http://x').pathname}`);
    const target = new URL(request.url, targets[index]);
    const forwarded = http.request(target, { method: request.method, headers: { ...request.headers, host: target.host } },
      (reply) => {
        response.writeHead(reply.statusCode, reply.headers);
        reply.pipe(response);
      });
    forwarded.on('error', (error) => { response.destroy(error); });
    request.pipe(forwarded);
  });
  server.listen(0, '127.0.0.1');
  return { server, served, url: async () => { await once(server, 'listening'); return `http://127.0.0.1:${server.address().port}/`; } };
}

before(async () => {
  assert.ok(conninfo, 'RESUMABLE_PG_CONNINFO must be set (run under tests/support/postgres_fixture.sh)');
  dir = scratchDir('demo-scaleout');
  dataDir = join(dir, 'shared-data');
  filePath = join(dir, 'site plan.bin');
  await writeRandomFile(filePath, FILE_SIZE);
  fileDigest = referenceDigest(filePath);
  const env = { RESUMABLE_DEMO_ADMIN: ADMIN, RESUMABLE_DEMO_ADMIN_PASSWORD: PASSWORD };
  // Started at once: schema creation on a fresh database must not trip over the other instance.
  instances = await Promise.all([0, 1].map(() => startDemo({ dataDir, args: ['--database', conninfo, ...s3], env })));
  proxy = startRoundRobinProxy(instances.map((instance) => instance.url));
  proxy.address = await proxy.url();
  browser = await launchBrowser();
});

after(async () => {
  proxy?.server.close();
  await browser?.close();
  const codes = await Promise.all(instances.map((instance) => instance.stop()));
  removeDir(dir);
  assert.deepEqual(codes, [0, 0], 'both instances exit cleanly on SIGTERM');
});

test('a database that cannot be reached stops the demo at start with exit status 1 and the reason', () => {
  const refused = new URL(conninfo);
  refused.port = '1';
  const result = spawnSync(process.env.RESUMABLE_DEMO_BIN,
    ['--port', '0', '--data-dir', join(dir, 'other'), '--database', refused.href], { encoding: 'utf8', timeout: 60000 });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /cannot connect to the database: connection to server at "127\.0\.0\.1", port 1 failed: Connection refused/);
});

test(`two instances over one PostgreSQL${s3.length ? ' and one bucket' : ''} are one site: login, chunks, the document and its download on both`, async () => {
  const context = await browser.newContext({ acceptDownloads: true, reducedMotion: 'reduce' });
  const page = await context.newPage();
  const at = (path) => new URL(path, proxy.address).href;

  await page.goto(at('admin/login'));
  await page.fill('#name', ADMIN);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(/\/admin\/$/), page.click('#login')]);
  assert.equal(await page.textContent('#admin-name'), ADMIN, 'the session one instance started is valid on the other');

  await page.goto(at('admin/documents/new'));
  await page.fill('#title', 'Site plan');
  await page.setInputFiles('#file', filePath);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 300000 });
  await page.click('#save');
  await page.waitForURL(/\/admin\/\?done=created$/);
  await context.close();

  const chunkPosts = proxy.served.map((requests) => requests.filter((r) => r === 'POST /admin/upload').length);
  assert.ok(chunkPosts[0] > 0 && chunkPosts[1] > 0, `chunks went to both instances (${chunkPosts})`);
  assert.ok(chunkPosts[0] + chunkPosts[1] >= 5, `every chunk was sent (${chunkPosts})`);
  const saves = proxy.served.map((requests) => requests.filter((r) => r === 'POST /admin/documents').length);
  console.log(`requests per instance: ${proxy.served.map((r) => r.length)}; chunk posts ${chunkPosts}; save on ${saves}`);

  if (s3.length) assert.deepEqual(readdirSync(join(dataDir, 'documents')), [], 'with --s3 the file is an object, not in the data dir');

  // Each instance, asked directly, lists the document with the file's tree digest and serves it.
  for (const [index, instance] of instances.entries()) {
    const list = await (await fetch(new URL('', instance.url))).text();
    const row = /<tr id="document-(\d+)"[\s\S]*?<\/tr>/.exec(list);
    assert.ok(row && row[0].includes('Site plan'), `instance ${index} lists the document`);
    assert.ok(row[0].includes(fileDigest), `instance ${index} shows the file's tree digest`);
    const download = await fetch(new URL(`documents/${row[1]}/download`, instance.url));
    assert.equal(download.status, 200);
    const saved = join(dir, `download-${index}.bin`);
    const out = createWriteStream(saved);
    Readable.fromWeb(download.body).pipe(out);
    await once(out, 'finish');
    assert.ok(sameBytes(saved, filePath), `instance ${index} serves the same bytes`);
    removeDir(saved);
  }
});
