// What the replies of the upload endpoint mean (docs/protocol.md): error bodies, and which failures
// are worth retrying.
// Contract: describeFailure(response, messages) turns a transport response that is not a success
// into {code, status, message, retryable}; message is text for people (the server's own when it
// sent one), never markup.
import { messageText } from './messages.js';

// Statuses worth retrying when a reply carries no "retryable" verdict of its own (e.g. a proxy's
// error page); the server's error bodies always say.
const RETRYABLE_STATUSES = [408, 422, 425, 429, 500, 502, 503, 504, 507];

export function describeFailure(response, messages) {
  if (response.timedOut) return { code: 'timeout', status: 0, message: messages.timeout, retryable: true };
  if (response.status === 0) return { code: 'network_error', status: 0, message: messages.networkError, retryable: true };
  var body = response.body;
  var statusRetryable = RETRYABLE_STATUSES.indexOf(response.status) >= 0;
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
