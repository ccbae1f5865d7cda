// The demo with --s3 (issue 17, docs/scale-out.md), against the radosgw of
// tests/support/ceph_fixture.sh (RESUMABLE_S3_* and the AWS_* credentials): a file uploaded through
// the public form in Chromium is an S3 object, never a file in the data dir; the document's
// download streams that object from S3 (whole and by ranges); deleting the document deletes it.
// A missing bucket stops the demo at start with exit status 1 and S3's reason. Objects are listed
// with curl's own SigV4 (curl --aws-sigv4), never with signing code here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  endDemoSession, fileBytes, launchBrowser, referenceDigest, scratchDir, startDemo, writeRandomFile,
} from '../browser/harness.mjs';

const MiB = 1048576;
const FILE_SIZE = 24 * MiB + 999; // 3 chunks of the form's 8 MiB, parts of the multipart upload
const endpoint = process.env.RESUMABLE_S3_ENDPOINT;
const bucket = process.env.RESUMABLE_S3_BUCKET;
const region = process.env.RESUMABLE_S3_REGION;
const prefix = `demo-test-${process.pid}/`;
const ADMIN = 'objects-admin';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
let dir, dataDir, demo, browser, filePath, fileDigest;

function s3curl(args) {
  return execFileSync('curl', ['-sS', '--fail-with-body', '--aws-sigv4', `aws:amz:${region}:s3`,
    '--user', `${process.env.AWS_ACCESS_KEY_ID}:${process.env.AWS_SECRET_ACCESS_KEY}`,
    '-H', 'x-amz-content-sha256: UNSIGNED-PAYLOAD', ...args], { maxBuffer: 64 * 1048576 }).toString();
}
// The keys under `under` (ListObjectsV2, one page), by Python's XML parser.
const keysUnder = (under) => execFileSync('python3', ['-c',
  'import sys, xml.etree.ElementTree as E; print("\\n".join(e.text for e in E.fromstring(sys.stdin.read()).iter() if e.tag.split("}")[-1] == "Key"))'],
{ input: s3curl([`${endpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(under)}`]) }).toString().split('\n').filter(Boolean);

const s3Args = (bucketName = bucket) => ['--s3', endpoint, '--s3-bucket', bucketName, '--s3-region', region, '--s3-prefix', prefix];

before(async () => {
  assert.ok(endpoint && bucket, 'run under tests/support/ceph_fixture.sh');
  dir = scratchDir('demo-s3');
  dataDir = join(dir, 'data');
  filePath = join(dir, 'scan.tif');
  await writeRandomFile(filePath, FILE_SIZE);
  fileDigest = referenceDigest(filePath);
  demo = await startDemo({ dataDir, args: s3Args(), env: { RESUMABLE_DEMO_ADMIN: ADMIN, RESUMABLE_DEMO_ADMIN_PASSWORD: PASSWORD } });
  browser = await launchBrowser();
});

after(() => endDemoSession({ browser, demo, dir }));

test('a missing bucket stops the demo at start with exit status 1 and the reason', () => {
  const result = spawnSync(process.env.RESUMABLE_DEMO_BIN, ['--port', '0', '--data-dir', join(dir, 'other'), ...s3Args('no-such-bucket')],
    { encoding: 'utf8', timeout: 60000 });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /cannot use the S3 bucket: bucket no-such-bucket at http:\/\/127\.0\.0\.1:\d+: .*NoSuchBucket/);
});

test('an uploaded file is an S3 object; its download streams from S3, whole and by ranges; deleting the document deletes it', async () => {
  const at = (path) => new URL(path, demo.url).href;
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  await page.goto(at('documents/new'));
  await page.fill('#title', 'Scan');
  await page.setInputFiles('#file', filePath);
  await page.locator('.rsm-file[data-state="done"]').waitFor({ timeout: 300000 });
  await page.click('#save');
  await page.waitForURL(/\/\?created=\d+$/);
  const id = new URL(page.url()).searchParams.get('created');
  assert.equal(await page.locator(`#document-${id} code.digest`).textContent(), fileDigest);

  assert.deepEqual(readdirSync(join(dataDir, 'documents')), [], 'no file in the data dir');
  const objects = keysUnder(prefix);
  assert.equal(objects.length, 1, `one object, the released file (${objects})`);
  assert.match(objects[0], new RegExp(`^${prefix}uploads/public/files/[0-9a-f]{32}\\.tif$`));

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator(`#document-${id} a.download`).click()]);
  const saved = join(dir, 'downloaded.tif');
  await download.saveAs(saved);
  execFileSync('cmp', [saved, filePath]);
  await context.close();

  const url = at(`documents/${id}/download`);
  const middle = 9 * MiB - 5; // across the first part's end
  const ranged = await fetch(url, { headers: { Range: `bytes=${middle}-${middle + 2 * MiB - 1}` } });
  assert.equal(ranged.status, 206);
  assert.equal(ranged.headers.get('content-range'), `bytes ${middle}-${middle + 2 * MiB - 1}/${FILE_SIZE}`);
  assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), fileBytes(filePath, middle, 2 * MiB));
  const tail = await fetch(url, { headers: { Range: 'bytes=-10' } });
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), fileBytes(filePath, FILE_SIZE - 10, 10));
  const etag = tail.headers.get('etag');
  assert.equal((await fetch(url, { headers: { 'If-None-Match': etag } })).status, 304);

  // The admin deletes the document: its object goes too.
  const adminContext = await browser.newContext();
  const admin = await adminContext.newPage();
  await admin.goto(at('admin/login'));
  await admin.fill('#name', ADMIN);
  await admin.fill('#password', PASSWORD);
  await Promise.all([admin.waitForURL(/\/admin\/$/), admin.click('#login')]);
  await admin.locator(`#document-${id} a.delete`).click();
  await admin.click('#confirm-delete');
  await admin.waitForURL(/\/admin\/\?done=deleted$/);
  await adminContext.close();
  assert.deepEqual(keysUnder(prefix), [], 'the object was deleted with its document');
});
