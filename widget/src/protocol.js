// Our endpoint's wire format (docs/protocol.md), and nothing else knows it: the URL, query
// parameters, headers and body of each request, and what each reply means. The Uploader talks only
// to this module, in terms of uploads and chunks, so another protocol (tus, say) could replace it
// by offering the same methods. There are no test requests: one status request replaces them.
//
// Contract, for any protocol module: new Protocol(options, messages), where options are the
// Uploader's (endpoint, query, headers, withCredentials, stallTimeout, responseTimeout, read at
// every request) and messages its texts. Each request method returns a handle whose abort()
// cancels it, after which its callback is never called; otherwise the callback gets one outcome:
//   requestStatus(uploadFile, onOutcome)   what the server holds of the file's upload:
//     {kind: 'complete', result}            the upload is finished; result is the final result
//     {kind: 'partial', held, heldCount, fileDigest}
//                                           held maps chunk number → digest for the chunks the
//                                           server holds; fileDigest is the one it was told, or null
//     {kind: 'absent'}                      the server holds nothing of it
//     {kind: 'differs'}                     it holds an upload of other bytes under this identifier
//     {kind: 'failed', failure, retryAfterMs}
//   sendChunk(uploadFile, chunk, onOutcome, onUploadProgress(bytesSent))
//     {kind: 'complete', result} | {kind: 'stored', duplicate} | {kind: 'failed', failure, retryAfterMs}
//   deleteUpload(uploadFile, onOutcome)   {kind: 'deleted'} | {kind: 'failed', failure, retryAfterMs}
//   resultMatches(result, uploadFile)     whether the final result is of exactly this file's bytes
// A failure is {code, status, message, retryable}: message is text for people (the server's own
// when it sent one), never markup; retryAfterMs is how long the server asked the client to wait
// (Retry-After in seconds or as an HTTP date; NaN when it did not say).
import { assign, globalConfig } from './options.js';
import { messageText } from './messages.js';
import { endpointUrl, sendRequest } from './transport.js';

// Statuses worth retrying when a reply carries no "retryable" verdict of its own (e.g. a proxy's
// error page); the server's error bodies always say.
const RETRYABLE_STATUSES = [408, 422, 425, 429, 500, 502, 503, 504, 507];

// A server on another origin that is up but whose replies the browser keeps from the page (it does
// not allow the page's origin) fails the file after this many requests in a row, instead of being
// retried like an unreachable one: the first few may still be an unlucky network.
const WITHHELD_REPLIES_BEFORE_FAILING = 3;

// Milliseconds a Retry-After header asks to wait: a number of seconds, or an HTTP date. A date is
// taken relative to the reply's own Date header when the page may read it, so that a client clock
// that is off does not matter; otherwise relative to the client's clock. NaN when there is none.
function retryAfterMs(value, replyDate, now) {
  if (value === null || value === undefined) return NaN;
  var text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  var at = Date.parse(text);
  if (isNaN(at)) return NaN;
  var reference = replyDate ? Date.parse(replyDate) : NaN;
  return Math.max(0, at - (isNaN(reference) ? now : reference));
}

export class ResumableProtocol {
  constructor(options, messages) {
    this.options = options;
    this.messages = messages;
    this.withheldReplies = 0;
  }

  // Resume is one request: which chunks does the server hold, and with which digests?
  requestStatus(uploadFile, onOutcome) {
    return this.send(uploadFile, 'GET', '/status', { identifier: uploadFile.identifier }, null, (response) => {
      const body = response.body;
      if (response.status === 200 && body && body.status === 'complete') {
        onOutcome({ kind: 'complete', result: body });
      } else if (response.status === 200 && body && body.status === 'partial') {
        onOutcome(this.partialStatus(uploadFile, body));
      } else if (response.status === 404 && body && body.error === 'upload_not_found') {
        onOutcome({ kind: 'absent' });
      } else {
        onOutcome(this.failed(response));
      }
    });
  }

  // The server pinned the upload's geometry at its first chunk; a file that does not match it, or
  // whose digest differs from the one the server was given, is not the file being resumed.
  partialStatus(uploadFile, body) {
    if (body.totalSize !== uploadFile.size || body.chunkSize !== uploadFile.chunkSize || body.chunkCount !== uploadFile.chunkCount) {
      return { kind: 'differs' };
    }
    // `received` lists ranges of chunk numbers; `digests` has one digest per received chunk, in order.
    const held = {};
    let heldCount = 0;
    const ranges = body.received || [];
    for (let r = 0; r < ranges.length; r++) {
      for (let number = ranges[r][0]; number <= ranges[r][1]; number++) held[number] = body.digests[heldCount++];
    }
    if (uploadFile.fileDigest && body.fileDigest && body.fileDigest !== uploadFile.fileDigest) return { kind: 'differs' };
    return { kind: 'partial', held: held, heldCount: heldCount, fileDigest: body.fileDigest || null };
  }

  // A chunk travels as a raw octet body, its parameters (resumable.js's names) and digest in the
  // query; fileDigest goes along once the whole file is hashed.
  sendChunk(uploadFile, chunk, onOutcome, onUploadProgress) {
    const params = {
      resumableChunkNumber: chunk.number,
      resumableChunkSize: uploadFile.chunkSize,
      resumableCurrentChunkSize: chunk.size,
      resumableTotalSize: uploadFile.size,
      resumableTotalChunks: uploadFile.chunkCount,
      resumableIdentifier: uploadFile.identifier,
      resumableFilename: uploadFile.name,
      resumableRelativePath: uploadFile.relativePath,
      resumableType: uploadFile.type || undefined,
      chunkDigest: chunk.digest,
      fileDigest: uploadFile.fileDigest || undefined
    };
    const body = uploadFile.file.slice(chunk.offset, chunk.offset + chunk.size);
    return this.send(uploadFile, 'POST', '', params, body, (response) => {
      const reply = response.body;
      if (response.status === 200 && reply && reply.status === 'complete') {
        onOutcome({ kind: 'complete', result: reply });
      } else if (response.status === 200 && reply && reply.status === 'chunk_stored') {
        onOutcome({ kind: 'stored', duplicate: !!reply.duplicate });
      } else {
        onOutcome(this.failed(response));
      }
    }, onUploadProgress);
  }

  // Deletes the server's part of an upload, or a finished upload nobody has claimed yet.
  deleteUpload(uploadFile, onOutcome) {
    return this.send(uploadFile, 'DELETE', '', { identifier: uploadFile.identifier }, null, (response) => {
      onOutcome(response.status === 204 || response.status === 200 ? { kind: 'deleted' } : this.failed(response));
    });
  }

  // fileDigest is the tree digest (docs/digest.md, "digestAlgorithm": "rsm-tree-v1"); a server that
  // still sends only the plain BLAKE2b-256 ("blake2b256") has no fileDigest, so it never matches.
  resultMatches(result, uploadFile) {
    return result.fileDigest === uploadFile.fileDigest && result.size === uploadFile.size;
  }

  failed(response) {
    let failure;
    if (response.withheld) {
      this.withheldReplies++;
      failure = { code: 'cross_origin_refused', status: 0, retryable: this.withheldReplies < WITHHELD_REPLIES_BEFORE_FAILING,
        message: messageText(this.messages, 'crossOriginRefused', new URL(endpointUrl(this.options.endpoint, '', null)).origin) };
    } else {
      failure = describeFailure(response, this.messages);
    }
    return { kind: 'failed', failure: failure, retryAfterMs: retryAfterMs(response.retryAfter, response.date, Date.now()) };
  }

  send(uploadFile, method, suffix, params, body, onDone, onUploadProgress) {
    const options = this.options;
    const extraQuery = typeof options.query === 'function' ? options.query(uploadFile) : options.query;
    // Page-wide headers (configure({headers})) first, then this uploader's: read at every request, so
    // a page may configure them before or after its inputs were enhanced (e.g. a CSRF token).
    const pageHeaders = typeof globalConfig.headers === 'function' ? globalConfig.headers(uploadFile) : globalConfig.headers;
    const ownHeaders = typeof options.headers === 'function' ? options.headers(uploadFile) : options.headers;
    return sendRequest({
      method: method,
      url: endpointUrl(options.endpoint, suffix, assign({}, extraQuery, params)),
      headers: assign({}, pageHeaders, ownHeaders),
      body: body,
      contentType: body ? 'application/octet-stream' : null,
      withCredentials: options.withCredentials,
      stallTimeout: options.stallTimeout,
      responseTimeout: options.responseTimeout,
      onUploadProgress: onUploadProgress
    }, (response) => {
      if (response.status !== 0) this.withheldReplies = 0;
      onDone(response);
    });
  }
}

// A reply that is not a success, as {code, status, message, retryable}.
function describeFailure(response, messages) {
  if (response.timedOut) return { code: 'timeout', status: 0, message: messages.timeout, retryable: true };
  if (response.status === 0) return { code: 'network_error', status: 0, message: messages.networkError, retryable: true };
  const body = response.body;
  const statusRetryable = RETRYABLE_STATUSES.indexOf(response.status) >= 0;
  if (body && body.status === 'error') {
    return { code: String(body.error || 'http_' + response.status), status: response.status,
      message: typeof body.message === 'string' && body.message ? body.message : messageText(messages, 'httpStatus', response.status),
      retryable: typeof body.retryable === 'boolean' ? body.retryable : statusRetryable };
  }
  if (response.status >= 200 && response.status < 300) {
    return { code: 'unexpected_reply', status: response.status, message: messages.unexpectedReply, retryable: true };
  }
  return { code: 'http_' + response.status, status: response.status,
    message: messageText(messages, 'httpStatus', response.status), retryable: statusRetryable };
}
