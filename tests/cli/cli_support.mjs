// Shared by the tests of the `resumable` command (tests/cli): run it, read its JSON lines, and ask
// the test server what it received. The servers and the fault proxy are tests/reliability's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { http } from '../reliability/support.mjs';

export const CLI = process.env.RESUMABLE_CLI_BIN;
if (!CLI) throw new Error('RESUMABLE_CLI_BIN must name the resumable command');

// Starts the command; `done` resolves {code, signal, stdout, stderr}. Bounded by `timeout`.
export function startCli(args, { timeout = 120000, env } = {}) {
  const child = spawn(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : undefined });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
  const done = once(child, 'exit').then(([code, signal]) => {
    clearTimeout(timer);
    return { code, signal, stdout, stderr };
  });
  return { child, done, stderr: () => stderr, stdout: () => stdout };
}

export const runCli = (args, options) => startCli(args, options).done;

// The --json lines of a run's standard output.
export function jsonLines(stdout) {
  return stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
}

// Chunk POSTs the test server received (for one identifier, or all), counted before the endpoint.
export async function chunkPosts(base, identifier) {
  const query = identifier ? `?identifier=${encodeURIComponent(identifier)}` : '';
  const reply = await http(`${base}/test/stats${query}`);
  return reply.json.chunkPosts;
}
