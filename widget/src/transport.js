// HTTP, knowing nothing of the upload protocol: URLs relative to the page, and one XMLHttpRequest
// per request with the stall and response timeouts.
// Contract: sendRequest(request, onDone) sends {method, url, headers, body (a Blob or null),
// contentType, withCredentials, stallTimeout, responseTimeout, onUploadProgress(loaded)} and calls
// onDone exactly once with {status, body (parsed JSON or null), text, retryAfter (the header's
// text), date (the reply's Date header when the page may read it, for a Retry-After date), timedOut,
// withheld} (status 0 when no reply reached the page), unless the handle's abort() comes first:
// then never, since whoever aborts does the accounting. `withheld` is true when no reply reached
// the page from another origin although its server is up: the browser kept the reply from the page
// because the server did not allow the page's origin (CORS). It is only reported for an origin
// that has not passed a reply to this page before (after one did, a failure is the network's).

// A URL resolved against the page.
export function absoluteUrl(url) {
  var base = typeof document !== 'undefined' ? document.baseURI : globalThis.location && globalThis.location.href;
  return new URL(url, base).href;
}

// The endpoint resolved against the page, with `suffix` appended to its path and `params` (those
// not undefined or null) set in its query.
export function endpointUrl(endpoint, suffix, params) {
  var url = new URL(absoluteUrl(endpoint));
  if (suffix) url.pathname = url.pathname.replace(/\/+$/, '') + suffix;
  if (params) {
    for (var key in params) if (params[key] !== undefined && params[key] !== null) url.searchParams.set(key, String(params[key]));
  }
  return url.href;
}

// Origins whose replies reached this page: CORS lets the page use them.
const answeredOrigins = {};

function isCrossOrigin(url) {
  return typeof location !== 'undefined' && new URL(url).origin !== location.origin;
}

// Whether the server of `url` answers at all: a no-cors GET of the path (no query, no credentials,
// nothing that needs a preflight) gets an opaque reply from any server that is up, whatever its
// CORS policy, and fails when it is down or unreachable. The reply itself stays unreadable.
function serverAnswers(url, timeout) {
  if (typeof fetch !== 'function') return Promise.resolve(false);
  var target = new URL(url);
  target.search = '';
  target.hash = '';
  var controller = typeof AbortController === 'function' ? new AbortController() : null;
  var timer = setTimeout(function () { if (controller) controller.abort(); }, timeout);
  return fetch(target.href, { mode: 'no-cors', credentials: 'omit', cache: 'no-store', signal: controller ? controller.signal : undefined })
    .then(function () { return true; }, function () { return false; })
    .then(function (answered) { clearTimeout(timer); return answered; });
}

// The Date header if the page may read it (always on its own origin; on another only if exposed),
// read through getAllResponseHeaders(), which lists only those and complains about none.
function readableDate(xhr) {
  var match = /^date:[ \t]*(.*?)[ \t]*$/im.exec(xhr.getAllResponseHeaders() || '');
  return match ? match[1] : null;
}

function parseJson(text) {
  if (!text) return null;
  try { return JSON.parse(text); } catch (error) { return null; }
}

export function sendRequest(request, onDone) {
  var xhr = new XMLHttpRequest();
  var finished = false;
  var timer = null;
  function finish(result) {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    onDone(result);
  }
  function expireAfter(milliseconds) {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (finished) return;
      finished = true;
      xhr.abort();
      onDone({ status: 0, body: null, text: '', timedOut: true });
    }, milliseconds);
  }
  xhr.open(request.method, request.url, true);
  xhr.withCredentials = !!request.withCredentials;
  var headers = request.headers || {};
  for (var name in headers) xhr.setRequestHeader(name, headers[name]);
  if (request.body) {
    // After the caller's headers, as the body's own type.
    if (request.contentType) xhr.setRequestHeader('Content-Type', request.contentType);
    xhr.upload.onprogress = function (event) {
      expireAfter(request.stallTimeout);
      if (request.onUploadProgress) request.onUploadProgress(event.loaded);
    };
    xhr.upload.onload = function () { expireAfter(request.responseTimeout); };
  }
  xhr.onload = function () {
    answeredOrigins[new URL(request.url).origin] = true;
    var retryAfter = xhr.getResponseHeader('Retry-After');
    finish({ status: xhr.status, body: parseJson(xhr.responseText), text: xhr.responseText,
      retryAfter: retryAfter, date: retryAfter ? readableDate(xhr) : null });
  };
  xhr.onerror = function () {
    clearTimeout(timer);
    var origin = new URL(request.url).origin;
    if (!isCrossOrigin(request.url) || answeredOrigins[origin]) {
      finish({ status: 0, body: null, text: '' });
      return;
    }
    // Down, unreachable, or up but not allowing this page: the browser says only "no reply".
    serverAnswers(request.url, Math.min(request.responseTimeout || 10000, 10000)).then(function (answers) {
      finish({ status: 0, body: null, text: '', withheld: answers });
    });
  };
  xhr.onabort = function () { finish({ status: 0, body: null, text: '' }); };
  expireAfter(request.body ? request.stallTimeout : request.responseTimeout);
  xhr.send(request.body || null);
  return {
    abort: function () {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      xhr.abort();
    }
  };
}
