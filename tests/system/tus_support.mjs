// Shared by the tus tests: the test server with the tus front-end mounted at /files, and the tus
// requests the tests send by hand. Builds on tests/reliability/support.mjs (server, HTTP, digests).
import { execFileSync } from 'node:child_process';
import { startServer as startReliabilityServer } from '../reliability/support.mjs';

export * from '../reliability/support.mjs';

export const TUS = { 'Tus-Resumable': '1.0.0' };

export function startTusServer({ dataDir, args = [] }) {
  process.env.RESUMABLE_RELIABILITY_SERVER_BIN ??= process.env.RESUMABLE_TEST_SERVER_BIN;
  return startReliabilityServer({ dataDir, args: ['--tus-path', '/files', '--durable', '0', ...args] });
}

// Our tree digest's chunk digest (docs/digest.md) of bytes [offset, offset + data.length) of a file
// of `size` bytes, by Python's hashlib (shares no code with the server), as raw bytes.
export function treeChunkDigest(data, offset, size) {
  const script = `
import hashlib, sys
data = sys.stdin.buffer.read(); o, S, L = ${offset}, ${size}, 1 << 20
H = lambda p, m: hashlib.blake2b(m, digest_size=32, person=p).digest()
e = o + len(data)
if o % L == 0 and (e % L == 0 or e == S):
    leaves = b"".join(H(b"rsm-leaf-v1", data[i:i + L]) for i in range(0, max(len(data), 1), L))
    sys.stdout.buffer.write(H(b"rsm-chunk-v1", leaves))
else:
    sys.stdout.buffer.write(H(b"rsm-bytes-v1", data))
`;
  return execFileSync('python3', ['-c', script], { input: data, maxBuffer: 1 << 20 });
}
