// Starts examples/device-minimal (RESUMABLE_EXAMPLE_BIN), natively or under the cross build's
// emulator (RESUMABLE_EMULATOR, e.g. /usr/bin/qemu-arm; empty natively), on 127.0.0.1 with a free
// port, and follows what it prints: "listening on port N", then "stored PATH SIZE bytes" per
// finished upload. Used by example_upload.test.mjs and tests/bench/device_footprint.mjs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

export function exampleCommand(args, emulatorArgs = []) {
  const bin = process.env.RESUMABLE_EXAMPLE_BIN;
  if (!bin) throw new Error('RESUMABLE_EXAMPLE_BIN must name the device-minimal executable');
  const emulator = process.env.RESUMABLE_EMULATOR ?? '';
  return emulator ? [emulator, [...emulatorArgs, bin, ...args]] : [bin, args];
}

// threads: CivetWeb workers; pem: serve HTTPS with this key + certificate file.
export async function startExample({ dataDir, threads = 2, pem, emulatorArgs } = {}) {
  const args = [pem ? '127.0.0.1:0s' : '127.0.0.1:0', dataDir, String(threads), ...(pem ? [pem] : [])];
  const [command, argv] = exampleCommand(args, emulatorArgs);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d) => { stdout += d; for (const w of [...waiters]) w(); });
  child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 1e5) stderr = stderr.slice(-5e4); });
  child.on('error', (e) => { stderr += `${e}\n`; });
  const exited = once(child, 'exit');
  const output = () => `stdout: ${stdout}\nstderr: ${stderr}`;
  // Resolves with what `find(stdout)` returns once it is not null, bounded by `ms`.
  const waitFor = (what, find, ms) => new Promise((resolve, reject) => {
    const cleanup = () => { clearTimeout(timer); waiters.splice(waiters.indexOf(check), 1); child.off('exit', fail); };
    const check = () => {
      const found = find(stdout);
      if (found === null) return;
      cleanup();
      resolve(found);
    };
    const fail = () => { cleanup(); reject(new Error(`device-minimal exited before printing ${what}; ${output()}`)); };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`no ${what} within ${ms} ms; ${output()}`)); }, ms);
    waiters.push(check);
    child.on('exit', fail);
    check();
  });
  const port = await waitFor('its port', (text) => /listening on port (\d+)\n/.exec(text)?.[1] ?? null, 30000);
  return {
    pid: child.pid,
    url: `${pem ? 'https' : 'http'}://127.0.0.1:${port}/upload`,
    output,
    // The files stored so far, [{path, size}], once there are at least `count`.
    stored(count, ms = 120000) {
      return waitFor(`${count} stored files`, (text) => {
        const files = [...text.matchAll(/stored (\S+) (\d+) bytes\n/g)].map((m) => ({ path: m[1], size: Number(m[2]) }));
        return files.length >= count ? files : null;
      }, ms);
    },
    // SIGTERM; resolves with the exit code (the example stops CivetWeb and returns 0).
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      return signal ? signal : code;
    },
  };
}
