// Shared by the IETF draft tests: the test server with the draft's front-end mounted at /resumable,
// and a small client written against the draft text (draft-ietf-httpbis-resumable-upload), which
// also reports the informational (1xx) replies a request got. Builds on tests/reliability/support.mjs.
import { request } from 'node:http';
import { startServer as startReliabilityServer } from '../reliability/support.mjs';

export * from '../reliability/support.mjs';

export const V8 = { 'Upload-Draft-Interop-Version': '8' };

export function startIetfServer({ dataDir, args = [] }) {
  process.env.RESUMABLE_RELIABILITY_SERVER_BIN ??= process.env.RESUMABLE_TEST_SERVER_BIN;
  return startReliabilityServer({ dataDir, args: ['--ietf-path', '/resumable', '--durable', '0', ...args] });
}

// One request on a fresh connection. Resolves {status, headers, text, json, informational} where
// informational lists the 1xx replies ({status, headers}); with `cutAfter`, the client sends that
// many bytes of the body, waits for `cutWhen` (default: the first 1xx reply), then drops the
// connection and resolves {cut: true, informational}.
export function send(url, { method = 'GET', headers = {}, body, cutAfter, cutWhen } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const h = Object.fromEntries(Object.entries(headers).filter(([, v]) => v !== undefined));  // undefined: left out
    if (data !== undefined && h['Content-Length'] === undefined) h['Content-Length'] = data.length;
    const informational = [];
    let informed;
    const firstInformation = new Promise((r) => { informed = r; });
    const req = request(url, { method, headers: h, agent: false }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json, informational });
      });
    });
    req.on('information', (info) => {
      informational.push({ status: info.statusCode, headers: info.headers });
      informed();
    });
    req.on('error', (error) => (cutAfter === undefined ? reject(error) : undefined));
    if (data === undefined) { req.end(); return; }
    if (cutAfter === undefined) { req.end(data); return; }
    // Cut once the bytes are handed to the kernel (which still delivers them) and the cue came.
    const flushed = new Promise((r) => req.write(data.subarray(0, cutAfter), r));
    Promise.all([flushed, cutWhen ? cutWhen() : firstInformation]).then(() => {
      req.destroy();
      resolve({ cut: true, informational });
    });
  });
}

// The parts of the draft a test checks on every reply.
export const completeOf = (r) => r.headers['upload-complete'];
export const offsetOf = (r) => Number(r.headers['upload-offset']);
