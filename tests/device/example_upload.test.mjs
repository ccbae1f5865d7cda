// The minimal device server (examples/device-minimal) takes real uploads from the host's
// `resumable` command (RESUMABLE_HOST_CLI): 64 MiB over HTTP and 8 MiB over HTTPS (the command
// trusting only the test's certificate), each stored byte-identical to the original. In the armhf
// build the server runs under qemu-arm (RESUMABLE_EMULATOR), so this is the host uploading into the
// emulated device; in a native device build the same test runs the x86-64 server.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startExample } from './example_server.mjs';

const MiB = 1048576;
let dir;

before(() => { dir = mkdtempSync(join(tmpdir(), 'resumable-device-')); });
after(() => { rmSync(dir, { recursive: true, force: true }); });

function randomFile(name, size) {
  const path = join(dir, name);
  writeFileSync(path, randomFillSync(Buffer.alloc(size)));
  return path;
}

// Runs `resumable upload --json`; resolves with its exit code and the JSON line of the file.
function upload(file, url, extra = []) {
  const cli = process.env.RESUMABLE_HOST_CLI;
  if (!cli) throw new Error('RESUMABLE_HOST_CLI must name a native build of the resumable command');
  return new Promise((resolve) => {
    execFile(cli, ['upload', '--quiet', '--json', ...extra, file, url], { timeout: 240000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, result: stdout ? JSON.parse(stdout.trim().split('\n').pop()) : null, stderr });
    });
  });
}

async function uploadAndCompare({ size, pem, cliOptions = [] }) {
  const original = randomFile(`original-${size}`, size);
  const server = await startExample({ dataDir: join(dir, `data-${size}`), pem });
  try {
    const started = performance.now();
    const { code, result, stderr } = await upload(original, server.url, cliOptions);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(code, 0, `resumable upload exited ${code}: ${stderr}\n${server.output()}`);
    assert.equal(result.status, 'complete', JSON.stringify(result));
    assert.equal(result.size, size);
    const [stored] = await server.stored(1);
    assert.equal(stored.size, size);
    assert.ok(readFileSync(stored.path).equals(readFileSync(original)), 'the stored file is byte-identical to the original');
    console.log(`${size / MiB} MiB over ${pem ? 'HTTPS' : 'HTTP'} into ${process.env.RESUMABLE_EMULATOR || 'the native server'}: ` +
      `${seconds.toFixed(1)} s (${(size / MiB / seconds).toFixed(1)} MiB/s), file digest ${result.fileDigest}`);
  } finally {
    assert.equal(await server.stop(), 0, `device-minimal exits 0 on SIGTERM; ${server.output()}`);
  }
}

test('64 MiB from the host over HTTP are stored byte-identical', { timeout: 300000 }, async () => {
  await uploadAndCompare({ size: 64 * MiB });
});

test('8 MiB from the host over HTTPS are stored byte-identical', { timeout: 300000 }, async () => {
  const key = join(dir, 'key.pem');
  const certificate = join(dir, 'certificate.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', certificate], { stdio: 'ignore' });
  const pem = join(dir, 'server.pem');  // CivetWeb's ssl_certificate: the key, then the certificate
  writeFileSync(pem, Buffer.concat([readFileSync(key), readFileSync(certificate)]));
  await uploadAndCompare({ size: 8 * MiB, pem, cliOptions: ['--cacert', certificate] });
});

// The widget is served from the library's memory (no file serving in the device profile's CivetWeb)
// by a build that compiles it in; one without it answers 404, and the page falls back to a file input.
test('the widget comes from the server\'s memory where the build compiles it in', { timeout: 120000 }, async () => {
  const server = await startExample({ dataDir: join(dir, 'data-widget') });
  try {
    const reply = await fetch(new URL('/upload/widget/resumable-widget.js', server.url));
    const body = Buffer.from(await reply.arrayBuffer());
    if (process.env.RESUMABLE_EXPECT_WIDGET === '1') {
      assert.equal(reply.status, 200);
      const wasm = await fetch(new URL('/upload/widget/resumable_core.wasm', server.url));
      assert.equal(wasm.status, 200);
      assert.equal(wasm.headers.get('content-type'), 'application/wasm');
      const prebuilt = process.env.RESUMABLE_WIDGET_PREBUILT_DIR;
      if (prebuilt) {
        assert.ok(body.equals(readFileSync(join(prebuilt, 'resumable-widget.js'))), 'the served script is the built one');
        assert.ok(Buffer.from(await wasm.arrayBuffer()).equals(readFileSync(join(prebuilt, 'resumable_core.wasm'))), 'the served core is the built one');
      }
    } else {
      assert.equal(reply.status, 404);
    }
  } finally {
    assert.equal(await server.stop(), 0, `device-minimal exits 0 on SIGTERM; ${server.output()}`);
  }
});
