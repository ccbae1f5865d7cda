// A fault-injecting HTTP proxy for loopback tests. It listens on 127.0.0.1 (a free port), forwards
// each connection to the upload server (one request per connection: the server closes after every
// reply) and, for requests the `decide` callback picks, injects one fault into the chunk body or the
// reply:
//   drop               forward part of the body, then close both sides (FIN)
//   reset              forward part of the body, then reset both sides (RST)
//   stall              pause mid-body for a short while, then continue (the request should succeed)
//   stall-abort        pause mid-body longer than the client waits: the client gives up
//   truncate           forward part of the body, then half-close towards the server (early EOF)
//   truncate-response  forward the whole request; relay only part of the reply, then close
//   flip               XOR one byte of the chunk's bytes (raw body, or the multipart `file` part)
// Every connection is recorded with its fault and the server's reply (status, error code), so a test
// can check that every corruption was detected. Bounded: stalls have fixed maxima; closing the proxy
// destroys every connection.
import { createServer, connect } from 'node:net';
import { once } from 'node:events';

export const FAULTS = ['drop', 'reset', 'stall', 'stall-abort', 'truncate', 'truncate-response', 'flip'];

const HEAD_LIMIT = 256 * 1024;

function parseHead(head) {
  const text = head.toString('latin1');
  const [requestLine, ...lines] = text.split('\r\n');
  const [method, target] = requestLine.split(' ');
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const url = new URL(target ?? '/', 'http://proxy');
  const type = headers['content-type'] ?? '';
  const boundary = /boundary=("?)([^";]+)\1/i.exec(type)?.[2];
  return {
    method, path: url.pathname, query: url.searchParams, headers,
    contentLength: headers['content-length'] !== undefined ? Number(headers['content-length']) : undefined,
    multipart: /^multipart\/form-data/i.test(type), boundary,
  };
}

// [start, end) of the `file` part's bytes inside a complete multipart body, or null.
function multipartFileRegion(body, boundary) {
  const marker = body.indexOf('name="file"');
  if (marker < 0) return null;
  const start = body.indexOf('\r\n\r\n', marker);
  if (start < 0) return null;
  const end = body.indexOf(`\r\n--${boundary}`, start + 4);
  if (end < 0) return null;
  return [start + 4, end];
}

export class FaultProxy {
  // target(): the server's port now (it may change across restarts). decide(info, index, random): a
  // fault name or null. random(): numbers in [0, 1) for cut points and stall lengths (seeded by the
  // test), drawn in the order connections arrive. randomFor(index), when given, instead gives each
  // connection numbers of its own (e.g. rng(seed + index)): then the whole schedule, which
  // connection gets which fault where, depends on the seed and the connection's number only, not on
  // how parallel requests interleave.
  constructor({ target, decide, random, randomFor, stallMs = [50, 600], stallAbortMs = 3000 }) {
    this.target = target;
    this.decide = decide;
    this.random = random ?? Math.random;
    this.randomFor = randomFor;
    this.stallMs = stallMs;
    this.stallAbortMs = stallAbortMs;
    this.records = [];
    this.sockets = new Set();
    this.connections = 0;
    this.server = createServer((socket) => this.handle(socket).catch(() => socket.destroy()));
  }

  async listen() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = this.server.address().port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    this.server.close();
    await once(this.server, 'close').catch(() => {});
  }

  // Counts of injected faults, by name.
  injected() {
    const counts = Object.fromEntries(FAULTS.map((f) => [f, 0]));
    for (const r of this.records) if (r.fault) counts[r.fault]++;
    return counts;
  }

  track(socket) {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
  }

  async handle(client) {
    const index = this.connections++;
    const random = this.randomFor ? this.randomFor(index) : this.random;
    this.track(client);
    client.setNoDelay(true);
    const reader = client[Symbol.asyncIterator]();
    let buffered = Buffer.alloc(0);
    let headEnd = -1;
    while (headEnd < 0) {
      const { value, done } = await reader.next();
      if (done) { client.destroy(); return; }
      buffered = Buffer.concat([buffered, value]);
      headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd < 0 && buffered.length > HEAD_LIMIT) break;
    }
    const upstream = connect(this.target(), '127.0.0.1');
    this.track(upstream);
    upstream.setNoDelay(true);
    try {
      await Promise.race([once(upstream, 'connect'), once(upstream, 'close').then(() => { throw new Error('refused'); })]);
    } catch {
      client.destroy();
      upstream.destroy();
      return;
    }
    if (headEnd < 0) {  // an oversized head: pass everything through untouched
      upstream.write(buffered);
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    const head = buffered.subarray(0, headEnd + 4);
    let rest = buffered.subarray(headEnd + 4);
    const info = parseHead(head);
    const length = info.contentLength ?? 0;
    // resumable.js chunks, and tus PATCH bodies (appends to an upload below any tus mount)
    const isChunk = (((info.method === 'POST' || info.method === 'PUT') && info.path === '/upload') || info.method === 'PATCH') && length > 0;
    const fault = isChunk ? this.decide(info, index, random) : null;
    const record = {
      index, fault, method: info.method, path: info.path,
      identifier: info.query.get('resumableIdentifier'), chunk: Number(info.query.get('resumableChunkNumber')) || null,
      hasChunkDigest: info.query.has('chunkDigest'), length,
    };
    this.records.push(record);
    const cut = Math.floor(random() * length);
    record.cut = cut;

    // Relay the reply, keeping its first 64 KiB to read the status and error code.
    const reply = [];
    let replyBytes = 0;
    const replyCut = fault === 'truncate-response' ? 1 + Math.floor(random() * 120) : Infinity;
    let relayed = 0;
    upstream.on('data', (d) => {
      record.answered = true;  // set before the client can see the reply (so before its next request)
      if (replyBytes < 65536) { reply.push(d); replyBytes += d.length; }
      if (relayed < replyCut) {
        const piece = d.subarray(0, Math.min(d.length, replyCut - relayed));
        relayed += piece.length;
        client.write(piece);
        if (relayed >= replyCut) client.destroy();
      }
    });
    const replied = new Promise((resolve) => {
      upstream.on('close', () => {
        const text = Buffer.concat(reply).toString('utf8');
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
        record.status = status ? Number(status[1]) : null;
        const body = text.slice(text.indexOf('\r\n\r\n') + 4);
        try {
          const json = JSON.parse(body);
          record.error = json.error ?? null;
          record.replyStatus = json.status ?? null;
          record.duplicate = json.duplicate === true;
        } catch { record.error = null; }
        if (!client.destroyed) client.end();
        resolve();
      });
    });
    client.on('close', () => { if (!upstream.destroyed && fault !== 'truncate') upstream.destroy(); });

    const write = async (bytes) => {
      if (upstream.destroyed || bytes.length === 0) return !upstream.destroyed;
      if (!upstream.write(bytes)) {
        await Promise.race([once(upstream, 'drain'), once(upstream, 'close')]);
      }
      return !upstream.destroyed;
    };
    const nextPiece = async () => {
      if (rest.length) { const piece = rest; rest = Buffer.alloc(0); return piece; }
      const { value, done } = await reader.next().catch(() => ({ done: true }));
      return done ? null : value;
    };

    await write(head);
    let sent = 0;
    if (fault === 'flip' && info.multipart) {
      // Multipart: gather the whole (small) body, find the file part, flip one of its bytes.
      const parts = [];
      let got = 0;
      while (got < length) {
        const piece = await nextPiece();
        if (!piece) break;
        parts.push(piece);
        got += piece.length;
      }
      const body = Buffer.concat(parts);
      // The parameters travel as fields: read what the record needs from them.
      const text = body.toString('latin1');
      const field = (name) => new RegExp(`name="${name}"\r\n\r\n([^\r]*)\r\n`).exec(text)?.[1];
      record.identifier = field('resumableIdentifier') ?? field('flowIdentifier') ?? record.identifier;
      record.chunk = Number(field('resumableChunkNumber') ?? field('flowChunkNumber')) || record.chunk;
      record.hasChunkDigest = record.hasChunkDigest || field('chunkDigest') !== undefined;
      const region = multipartFileRegion(body, info.boundary);
      if (region && region[1] > region[0]) {
        const at = region[0] + Math.floor(random() * (region[1] - region[0]));
        body[at] ^= 1 + Math.floor(random() * 255);
        record.flippedAt = at - region[0];
      } else {
        record.fault = null;  // nothing to flip (an empty chunk)
      }
      await write(body);
      await replied;
      return;
    }
    const flipAt = fault === 'flip' ? Math.floor(random() * length) : -1;
    if (fault === 'flip') record.flippedAt = flipAt;
    for (;;) {
      if (sent >= length) break;  // the whole body is through (bodies carry a Content-Length)
      if (fault && fault !== 'flip' && fault !== 'truncate-response' && sent >= cut) break;
      let piece = await nextPiece();
      if (!piece) break;
      if (fault && fault !== 'flip' && fault !== 'truncate-response' && sent + piece.length > cut) {
        rest = piece.subarray(cut - sent);
        piece = piece.subarray(0, cut - sent);
      }
      if (flipAt >= sent && flipAt < sent + piece.length) {
        piece = Buffer.from(piece);
        piece[flipAt - sent] ^= 1 + Math.floor(random() * 255);
      }
      if (!(await write(piece))) break;
      sent += piece.length;
    }
    switch (fault) {
      case 'drop':
        client.destroy();
        upstream.destroy();
        break;
      case 'reset':
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        break;
      case 'stall':
      case 'stall-abort': {
        const ms = fault === 'stall'
          ? this.stallMs[0] + Math.floor(random() * (this.stallMs[1] - this.stallMs[0]))
          : this.stallAbortMs;
        record.stallMs = ms;
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, ms);
          client.once('close', () => { clearTimeout(timer); resolve(); });
        });
        while (sent < length) {
          const piece = await nextPiece();
          if (!piece || !(await write(piece))) break;
          sent += piece.length;
        }
        break;
      }
      case 'truncate':
        upstream.end();  // the server sees the body end early
        // Swallow what the client still sends; the reply is relayed as it comes.
        (async () => { while (await nextPiece()); })().catch(() => {});
        break;
      default:
        break;
    }
    await replied;
  }
}
