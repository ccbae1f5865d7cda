// HTTP, knowing nothing of the upload protocol: URLs relative to the page, and one XMLHttpRequest
// per request with the stall and response timeouts.
// Contract: sendRequest(request, onDone) sends {method, url, headers, body (a Blob or null),
// contentType, withCredentials, stallTimeout, responseTimeout, onUploadProgress(loaded)} and calls
// onDone exactly once with {status, body (parsed JSON or null), text, retryAfter (the header's
// text), timedOut} (status 0 when no reply arrived), unless the handle's abort() comes first: then
// never, since whoever aborts does the accounting.

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
    finish({ status: xhr.status, body: parseJson(xhr.responseText), text: xhr.responseText,
      retryAfter: xhr.getResponseHeader('Retry-After') });
  };
  xhr.onerror = function () { finish({ status: 0, body: null, text: '' }); };
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
