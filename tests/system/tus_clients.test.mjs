// tus-js-client 4.3.1 (npm, unmodified) in node against the tus front-end (issue 13): a 256 MiB file
// with chunkSize set, in one PATCH, with parallelUploads: 3 (three partial uploads joined by a final
// one: the concatenation extension), and cut mid-body by the fault proxy, then resumed from its
// stored URL by a new client (a restart). Each stored file must be byte-identical to the original (b2sum),
// its digest (Upload-File-Digest) the reference's, and claimed with the Upload-Token the client got.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import {
  MiB, TUS, b2sum256, claim, http, referenceDigest, rmSync, scratchDir, startTusServer, writeRandomFile,
} from './tus_support.mjs';
import { FaultProxy } from '../reliability/fault_proxy.mjs';

const tus = createRequire(import.meta.url)('tus-js-client');
const SIZE = 256 * MiB;
let dir, server, file, expected;

before(async () => {
  dir = scratchDir('tus-clients');
  server = await startTusServer({ dataDir: join(dir, 'data'), args: ['--max-file-size', String(1 << 30)] });
  file = join(dir, 'original.bin');
  writeRandomFile(file, SIZE);
  expected = { bytes: b2sum256(file), digest: referenceDigest(file) };
});

after(async () => {
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Uploads `file` with tus-js-client; resolves the headers of the last PATCH (or POST) reply and the
// Upload-Offset of every HEAD it sent.
function upload(options) {
  return new Promise((resolve, reject) => {
    const seen = { heads: [], patches: 0, last: null, concat: [], locations: [] };
    const u = new tus.Upload(createReadStream(file), {
      endpoint: `${options.base ?? server.url.replace(/\/$/, '')}/files`,
      headers: { 'X-Test-User': 'alice' },
      metadata: { filename: 'original.bin', filetype: 'application/octet-stream' },
      retryDelays: null,
      onAfterResponse(req, res) {
        if (req.getMethod() === 'HEAD') seen.heads.push(Number(res.getHeader('Upload-Offset')));
        if (req.getMethod() === 'PATCH') seen.patches++;
        if (req.getMethod() === 'POST') {
          seen.concat.push(req.getHeader('Upload-Concat'));
          seen.locations.push(new URL(res.getHeader('Location'), req.getURL()).href);
        }
        if (res.getHeader('Upload-Token')) seen.last = res;
      },
      onSuccess: () => resolve({ upload: u, seen }),
      onError: reject,
      ...options.tus,
    });
    Promise.resolve(options.prepare?.(u)).then(() => u.start(), reject);
  });
}

async function checkStored(seen) {
  assert.ok(seen.last, 'the last reply carries Upload-Token');
  const [algorithm, digest] = seen.last.getHeader('Upload-File-Digest').split(' ');
  assert.equal(algorithm, 'rsm-tree-v1');
  assert.equal(digest, expected.digest);
  const claimed = await claim(server.url.replace(/\/$/, ''), seen.last.getHeader('Upload-Token'));
  assert.equal(claimed.status, 200, claimed.text);
  assert.equal(claimed.json.size, SIZE);
  assert.equal(b2sum256(claimed.json.path), expected.bytes, 'stored file is byte-identical');
  rmSync(claimed.json.path);
}

test('256 MiB with chunkSize 8 MiB: 32 PATCHes, stored byte-identical', async () => {
  const { seen } = await upload({ tus: { chunkSize: 8 * MiB } });
  assert.equal(seen.patches, 32);
  await checkStored(seen);
});

test('256 MiB in one PATCH, stored byte-identical', async () => {
  const { seen } = await upload({ tus: { uploadSize: SIZE } });
  assert.equal(seen.patches, 1);
  await checkStored(seen);
});

test('256 MiB with parallelUploads: 3: three partials joined into the final upload, stored byte-identical', async () => {
  const before = (await http(`${server.url.replace(/\/$/, '')}/test/uploads`)).json.length;
  const { seen } = await upload({ tus: { parallelUploads: 3 } });
  // Three partial uploads, then the final one naming them in order.
  assert.deepEqual(seen.concat.slice(0, 3), ['partial', 'partial', 'partial']);
  assert.equal(seen.concat.length, 4);
  const partials = seen.locations.slice(0, 3);
  assert.ok(seen.concat[3].startsWith('final;'), seen.concat[3]);
  assert.deepEqual(new Set(seen.concat[3].slice(6).split(' ')), new Set(partials));
  // Their boundaries (256 MiB / 3) are not on 1 MiB leaves: the digest is still the reference's.
  const final = await http(new URL(seen.locations[3]).href, { method: 'HEAD', headers: { ...TUS, 'X-Test-User': 'alice' } });
  assert.equal(final.status, 200);
  assert.equal(final.headers['upload-length'], String(SIZE));
  assert.equal(final.headers['upload-offset'], String(SIZE));
  assert.match(final.headers['upload-concat'], /^final;\/files\/[0-9a-f]{32} \/files\/[0-9a-f]{32} \/files\/[0-9a-f]{32}$/);
  // The partials were consumed by the final upload: gone, and nothing else left behind.
  for (const url of partials) {
    assert.equal((await http(url, { method: 'HEAD', headers: { ...TUS, 'X-Test-User': 'alice' } })).status, 404);
  }
  assert.equal((await http(`${server.url.replace(/\/$/, '')}/test/uploads`)).json.length, before + 1, 'only the final upload is held');
  await checkStored(seen);
});

test('a PATCH cut mid-body keeps its committed pieces; a restarted client resumes from the stored URL', async () => {
  // The proxy drops the first PATCH's connection half-way through its body.
  const proxy = await new FaultProxy({
    target: () => Number(new URL(server.url).port),
    decide: (info, index) => (info.method === 'PATCH' && index <= 1 ? 'drop' : null),
    random: () => 0.5,
  }).listen();
  try {
    const storage = join(dir, 'tus-urls.json');
    const first = upload({ base: proxy.url, tus: { urlStorage: new tus.FileUrlStorage(storage) } });
    await assert.rejects(first, 'the cut PATCH fails the first client (no retries)');
    // A new client, as after a restart: its URL comes from the file the first one left. It keeps
    // tus-js-client's habit of retrying a 409: the server may still be reading what the cut
    // connection had already delivered (kernel buffers) when the new HEAD asks, so the offset can
    // move on once before the new PATCH arrives; tusd answers that 409 too, and the client asks again.
    const { seen } = await upload({
      base: proxy.url,
      tus: { urlStorage: new tus.FileUrlStorage(storage), retryDelays: [0, 200] },
      prepare: async (u) => {
        const previous = await u.findPreviousUploads();
        assert.equal(previous.length, 1, 'the first client stored its upload URL');
        u.resumeFromPreviousUpload(previous[0]);
      },
    });
    // The resumed client asked the server where to go on, and did not start from zero.
    assert.ok(seen.heads.length >= 1 && seen.heads.length <= 2, `resumed through HEAD on the stored URL: ${seen.heads}`);
    for (const offset of seen.heads) {
      assert.ok(offset >= 112 * MiB && offset < SIZE, `resumed at ${offset}`);
      assert.equal(offset % (16 * MiB), 0, 'at a committed piece boundary');
    }
    assert.equal(seen.heads.length, seen.patches, 'one PATCH after each HEAD: the rest of the file');
    await checkStored(seen);
  } finally {
    await proxy.close();
  }
});
