// The widget's hashing pipeline (its Worker pool + wasm core), on its own: chunk and file digests are
// the tree digest of docs/digest.md, equal to the Python reference (tools/resumable_digest.py) and to
// `resumable-digest`, for leaf-aligned and unaligned chunk sizes, with one Worker and with two; and
// the upload identifier is stable for the same file across reloads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeDir, scratchDir, writeRandomFile } from './harness.mjs';
import { MiB, launchBrowser, openContext, startTestServer } from './widget_support.mjs';

// Several of the pool's 8 MiB units, and a last leaf of odd length.
const FILE_SIZE = 37 * MiB + 4321;
const REFERENCE = join(process.env.RESUMABLE_SOURCE_DIR ?? join(dirname(new URL(import.meta.url).pathname), '..', '..'),
  'tools', 'resumable_digest.py');
// `resumable-digest` of the same build, beside the test server (<build>/tools/).
const NATIVE = process.env.RESUMABLE_TEST_SERVER_BIN
  ? join(dirname(process.env.RESUMABLE_TEST_SERVER_BIN), '..', 'tools', 'resumable-digest') : null;
let dir, server, browser, context, filePath;

before(async () => {
  dir = scratchDir('widget-hashing');
  filePath = join(dir, 'sample.bin');
  await writeRandomFile(filePath, FILE_SIZE);
  server = await startTestServer({ dataDir: join(dir, 'data') });
  browser = await launchBrowser();
  context = await openContext(browser);
});

after(async () => {
  await browser?.close();
  const code = await server?.stop();
  removeDir(dir);
  assert.equal(code, 0);
});

// The reference's digests of the file and of the given chunks ([offset, size] pairs), in one run.
function referenceDigests(path, spans) {
  const script = `import json, sys
sys.path.insert(0, sys.argv[1])
import resumable_digest as r
path, spans = sys.argv[2], json.loads(sys.stdin.read())
print(json.dumps({"file": r.file_digest(path).hex(), "chunks": [r.chunk_digest(path, o, s).hex() for o, s in spans]}))`;
  const out = execFileSync('python3', ['-c', script, dirname(REFERENCE), path], { input: JSON.stringify(spans), encoding: 'utf8' });
  return JSON.parse(out);
}

function nativeFileDigest(path) {
  return execFileSync(NATIVE, [path], { encoding: 'utf8' }).split(' ')[0];
}

// Hashes a file in a fresh page (so a fresh pool) with `workers` Workers; also returns how many
// Workers the page started.
async function hashInPage(path, options, workers = 1) {
  const page = await context.newPage();
  let started = 0;
  page.on('worker', () => { started++; });
  await page.goto(`${server.url}/tests/browser/pages/widget-api.html`);
  await page.setInputFiles('#picker', path);
  const result = await page.evaluate(([opts, n]) => {
    ResumableWidget.configure({ hashWorkers: n });
    return ResumableWidget.hashFile(document.getElementById('picker').files[0], Object.assign({ endpoint: '/upload' }, opts));
  }, [options, workers]);
  await page.close();
  return { ...result, workersStarted: started };
}

function assertMatchesReference(result, path, label) {
  const reference = referenceDigests(path, result.chunks.map((c) => [c.offset, c.size]));
  assert.equal(result.fileDigest, reference.file, `${label}: file digest`);
  if (NATIVE && existsSync(NATIVE)) assert.equal(result.fileDigest, nativeFileDigest(path), `${label}: resumable-digest`);
  result.chunks.forEach((chunk, i) => assert.equal(chunk.digest, reference.chunks[i], `${label}: chunk ${chunk.number}`));
}

for (const [name, chunkSize] of [['leaf-aligned 4 MiB', 4 * MiB], ['unaligned 1,000,000-byte', 1000000]]) {
  test(`${name} chunks: digests equal the reference, with one Worker and with two`, async () => {
    const one = await hashInPage(filePath, { chunkSize }, 1);
    const two = await hashInPage(filePath, { chunkSize }, 2);
    const count = Math.floor(FILE_SIZE / chunkSize);
    assert.equal(one.chunkCount, count);
    assert.deepEqual(one.chunks.map((c) => c.number), Array.from({ length: count }, (_, i) => i + 1), 'chunks come in order');
    const last = one.chunks.at(-1);
    assert.deepEqual([last.offset, last.size], [(count - 1) * chunkSize, FILE_SIZE - (count - 1) * chunkSize]);
    assertMatchesReference(one, filePath, `${name}, 1 Worker`);
    assert.equal(one.workersStarted, 1);
    assert.equal(two.workersStarted, 2, 'the file is hashed by two Workers');
    assert.deepEqual(two.chunks, one.chunks, 'two Workers give the same chunk digests');
    assert.equal(two.fileDigest, one.fileDigest);
    assert.equal(two.identifier, one.identifier);
  });
}

test('the file digest does not depend on the chunk size; chunk borders inside read slices', async () => {
  const result = await hashInPage(filePath, { chunkSize: 3 * MiB + 1 }, 2);
  assertMatchesReference(result, filePath, '3 MiB + 1');
  const aligned = await hashInPage(filePath, { chunkSize: MiB }, 2);
  assert.equal(aligned.fileDigest, result.fileDigest);
});

test('forceChunkSize gives ceil(S/C) chunks and a short, leaf-aligned last chunk', async () => {
  const result = await hashInPage(filePath, { chunkSize: 8 * MiB, forceChunkSize: true }, 2);
  assert.equal(result.chunkCount, 5);
  assert.deepEqual([result.chunks[4].offset, result.chunks[4].size], [32 * MiB, 5 * MiB + 4321]);
  assertMatchesReference(result, filePath, 'forced 8 MiB');
});

test('the identifier is the same after a reload and changes when the file is modified', async () => {
  const first = await hashInPage(filePath, { chunkSize: MiB });
  const again = await hashInPage(filePath, { chunkSize: MiB }, 2);
  assert.match(first.identifier, new RegExp(`^${FILE_SIZE}-[0-9a-f]{40}$`));
  assert.equal(again.identifier, first.identifier);
  const otherChunking = await hashInPage(filePath, { chunkSize: 2 * MiB });
  assert.notEqual(otherChunking.identifier, first.identifier, 'a different chunk size is a different upload');
  utimesSync(filePath, new Date(), new Date(Date.now() - 3600 * 1000));
  const touched = await hashInPage(filePath, { chunkSize: MiB });
  assert.notEqual(touched.identifier, first.identifier, 'a new modification time is a new upload');
});

test('an empty file is one empty chunk; a file shorter than a leaf is one chunk', async () => {
  const empty = join(dir, 'empty.bin');
  writeFileSync(empty, '');
  const result = await hashInPage(empty, { chunkSize: MiB }, 2);
  assert.equal(result.chunkCount, 1);
  assert.deepEqual(result.chunks.map((c) => [c.number, c.offset, c.size]), [[1, 0, 0]]);
  assert.equal(result.fileDigest, 'a93b05daffad23ac1771f78d8ae36ecfc20f0e1c90d424f94445143a81e4bd69'); // docs/digest.md
  assertMatchesReference(result, empty, 'empty');
  const small = join(dir, 'small.bin');
  await writeRandomFile(small, 12345);
  assertMatchesReference(await hashInPage(small, { chunkSize: 1000000 }, 2), small, 'small');
});
