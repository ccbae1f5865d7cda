/*! resumable widget: verified, resumable uploads for the resumable server library. MIT licence. */
// Load it as a classic script (it defines window.ResumableWidget and, unless resumable.js is already
// there, window.Resumable) or through resumable-widget.mjs as an ES module. Every
// <input type="file" data-resumable="/upload"> becomes an uploader when the page loads; the same
// machinery is available as `new ResumableWidget.Uploader(options)` without any UI.
//
// The pieces, top to bottom: text and formatting helpers, the hashing Worker pool, the transport
// (one XMLHttpRequest per chunk), the Uploader (state, scheduling, retries, resume), the form
// widget (DOM), the resumable.js compatibility layer, auto-enhancement.
(function (root) {
  'use strict';
  // Loaded twice (a classic tag and the module wrapper): the first copy owns the page.
  if (root.ResumableWidget) return;

  var VERSION = '0.1.0';
  var KiB = 1024;
  var MiB = 1048576;
  var currentScript = typeof document !== 'undefined' ? document.currentScript : null;
  var globalConfig = {
    // Where the Worker, the wasm core and the stylesheet live: next to this script when loaded by a
    // tag; the module wrapper sets it from import.meta.url; otherwise <endpoint>/widget/.
    assetBase: currentScript && currentScript.src ? new URL('./', currentScript.src).href : null,
    stylesheet: true,
    headers: {}
  };

  var DEFAULT_OPTIONS = {
    endpoint: null,
    chunkSize: 4 * MiB,
    forceChunkSize: false,
    simultaneousUploads: 3,
    autoStart: true,
    maxFileSize: Infinity,
    minFileSize: 0,
    maxFiles: Infinity,
    accept: [],
    headers: {},
    query: {},
    withCredentials: false,
    // A request whose body makes no progress for stallTimeout ms, or whose reply takes longer than
    // responseTimeout ms after the body was sent (the server verifies and syncs first), is abandoned
    // and retried.
    stallTimeout: 30000,
    responseTimeout: 120000,
    maxRetries: 20,
    retryDelay: 500,
    maxRetryDelay: 30000,
    progressInterval: 200,
    assetBase: null,
    messages: {}
  };

  // Statuses worth retrying when a reply carries no "retryable" verdict of its own (e.g. a proxy's
  // error page); the server's error bodies always say.
  var RETRYABLE_STATUSES = [408, 422, 425, 429, 500, 502, 503, 504, 507];
  var TERMINAL_PHASES = { done: true, failed: true, cancelled: true };

  // ---- Text -------------------------------------------------------------------------------------
  // Every string users see, in one place; pass `messages` to replace any of them.
  var DEFAULT_MESSAGES = {
    chooseFiles: 'Choose files…',
    chooseFile: 'Choose a file…',
    dropHintMany: 'or drop files or folders here',
    dropHintOne: 'or drop a file here',
    pause: 'Pause',
    resume: 'Resume',
    cancel: 'Cancel',
    remove: 'Remove',
    retry: 'Retry',
    pauseAll: 'Pause all',
    resumeAll: 'Resume all',
    cancelAll: 'Cancel all',
    currentFile: 'Current file:',
    clear: 'Clear',
    totalProgressLabel: 'All uploads',
    states: { queued: 'Waiting', hashing: 'Preparing', uploading: 'Uploading', paused: 'Paused',
      retrying: 'Retrying', verifying: 'Verifying', done: 'Done', failed: 'Failed', cancelled: 'Cancelled' },
    actionLabel: function (action, name) { return action + ' ' + name; },
    progressLabel: function (name) { return 'Upload of ' + name; },
    progressText: function (percent, done, total) {
      return percent + '% (' + formatBytes(done) + ' of ' + formatBytes(total) + ')';
    },
    speedAndTimeLeft: function (bytesPerSecond, secondsLeft) {
      return formatBytes(bytesPerSecond) + '/s, ' + formatDuration(secondsLeft) + ' left';
    },
    tooLarge: function (name, limit) { return name + ' is too large: files may be at most ' + formatBytes(limit) + '.'; },
    tooSmall: function (name, limit) { return name + ' is too small: files must be at least ' + formatBytes(limit) + '.'; },
    typeNotAllowed: function (name, accepted) { return name + ' is not an accepted type (' + accepted.join(', ') + ').'; },
    tooManyFiles: function (name, limit) {
      return name + ' was not added: at most ' + limit + (limit === 1 ? ' file' : ' files') + ' can be uploaded.';
    },
    duplicate: function (name) { return name + ' is already in the list.'; },
    networkError: 'The connection to the server failed.',
    timeout: 'The server did not answer in time.',
    unexpectedReply: 'The server sent a reply the uploader does not understand.',
    httpStatus: function (status) { return 'The server answered with HTTP status ' + status + '.'; },
    readError: function (detail) { return 'The file could not be read (' + detail + ').'; },
    serverCopyDiffers: 'The server holds a different file under this upload; remove it and add the file again.',
    announceAdded: function (name) { return name + ' added.'; },
    announceState: function (name, stateText, detail) { return name + ': ' + stateText + (detail ? '. ' + detail : '.'); },
    announceChanged: function (name) { return name + ' changed since it was partly uploaded: uploading it again from the start.'; },
    announceRemoved: function (name) { return name + ' removed.'; },
    announceComplete: function (succeeded, failed) {
      return failed > 0 ? succeeded + ' uploaded, ' + failed + ' failed.' : 'All uploads finished.';
    },
    waitForUpload: 'The form can be sent when the upload has finished.',
    willSubmit: 'The form will be sent as soon as the upload has finished.',
    uploadFailed: 'An upload failed: retry or remove it before sending the form.',
    required: 'Choose a file to upload.'
  };

  function messageText(messages, key) {
    var value = messages[key];
    return typeof value === 'function' ? value.apply(null, Array.prototype.slice.call(arguments, 2)) : value;
  }

  // Binary units, like b2sum-checking users, `ls -lh` and the demo's list expect for file sizes.
  function formatBytes(bytes) {
    if (!(bytes >= 0) || !isFinite(bytes)) return '–';
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var unit = 0;
    while (bytes >= 1024 && unit < units.length - 1) { bytes /= 1024; unit++; }
    return (unit === 0 || bytes >= 100 ? Math.round(bytes) : bytes.toFixed(1)) + ' ' + units[unit];
  }

  function formatDuration(seconds) {
    if (!(seconds >= 0) || !isFinite(seconds)) return '–';
    seconds = Math.ceil(seconds);
    if (seconds < 60) return seconds + ' s';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
    return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
  }

  // "512MiB", "10 MB", "1.5GiB" or plain bytes; decimal units are powers of 1000, binary of 1024.
  function parseSize(text) {
    if (text === undefined || text === null || text === '') return undefined;
    if (typeof text === 'number') return text;
    var match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(String(text));
    if (!match) throw new Error('Not a size: ' + text);
    var power = ' kmgt'.indexOf(match[2].toLowerCase() || ' ');
    return Math.round(Number(match[1]) * Math.pow(match[3] ? KiB : 1000, power));
  }

  function assign(target) {
    for (var i = 1; i < arguments.length; i++) {
      var source = arguments[i];
      if (!source) continue;
      for (var key in source) if (Object.prototype.hasOwnProperty.call(source, key) && source[key] !== undefined) target[key] = source[key];
    }
    return target;
  }

  // Accept patterns as in the input's accept attribute: ".pdf", "image/*", "application/zip".
  function acceptsFile(patterns, file) {
    if (!patterns || patterns.length === 0) return true;
    var name = file.name.toLowerCase();
    var type = (file.type || '').toLowerCase();
    for (var i = 0; i < patterns.length; i++) {
      var pattern = patterns[i].trim().toLowerCase();
      if (!pattern) continue;
      if (pattern.charAt(0) === '.') {
        if (name.length > pattern.length && name.slice(-pattern.length) === pattern) return true;
      } else if (pattern.slice(-2) === '/*') {
        if (type.indexOf(pattern.slice(0, -1)) === 0) return true;
      } else if (type === pattern) {
        return true;
      }
    }
    return false;
  }

  function parseAccept(text) {
    return text ? String(text).split(',').map(function (part) { return part.trim(); }).filter(Boolean) : [];
  }

  // ---- Events -----------------------------------------------------------------------------------
  function Emitter() { this._listeners = {}; }
  Emitter.prototype.on = function (type, listener) {
    (this._listeners[type] || (this._listeners[type] = [])).push(listener);
    return this;
  };
  Emitter.prototype.off = function (type, listener) {
    var list = this._listeners[type];
    if (list) this._listeners[type] = list.filter(function (candidate) { return candidate !== listener; });
    return this;
  };
  Emitter.prototype.once = function (type, listener) {
    var self = this;
    function wrapper(detail) { self.off(type, wrapper); listener.call(self, detail); }
    return this.on(type, wrapper);
  };
  Emitter.prototype.emit = function (type, detail) {
    var list = (this._listeners[type] || []).slice().concat(this._listeners['*'] || []);
    for (var i = 0; i < list.length; i++) {
      try {
        list[i].call(this, detail, type);
      } catch (error) {
        // A page's faulty listener must not stall the uploads; report it where developers look.
        setTimeout(function () { throw error; });
      }
    }
  };

  // ---- Hashing ----------------------------------------------------------------------------------
  // One Worker per page hashes files one after another (see resumable-hash-worker.js); each job
  // reports chunk digests in batches, then the whole file's digest.
  var hashPool = {
    worker: null,
    handlers: {},
    nextJob: 1,
    start: function (assetBase, file, chunkSize, forceChunkSize, handler) {
      var worker = this.ensureWorker(assetBase);
      var job = this.nextJob++;
      this.handlers[job] = handler;
      worker.postMessage({ type: 'hash', job: job, file: file, chunkSize: chunkSize, forceChunkSize: forceChunkSize });
      return job;
    },
    control: function (type, job) {
      if (!job || !this.handlers[job]) return;
      if (type === 'cancel') delete this.handlers[job];
      this.worker.postMessage({ type: type, job: job });
    },
    ensureWorker: function (assetBase) {
      if (this.worker) return this.worker;
      var pool = this;
      this.worker = new Worker(assetBase + 'resumable-hash-worker.js');
      this.worker.onmessage = function (event) {
        var message = event.data;
        var handler = pool.handlers[message.job];
        if (!handler) return;
        if (message.type === 'done' || message.type === 'error') delete pool.handlers[message.job];
        handler(message);
      };
      this.worker.onerror = function (event) {
        // The Worker script or the wasm core failed to load: nothing can be hashed on this page.
        event.preventDefault();
        var handlers = pool.handlers;
        pool.handlers = {};
        pool.worker = null;
        var detail = event.message || 'the hashing worker did not start';
        for (var job in handlers) handlers[job]({ type: 'error', job: Number(job), message: detail });
      };
      return this.worker;
    }
  };

  function resolveAssetBase(explicitBase, endpoint) {
    var base = explicitBase || globalConfig.assetBase;
    if (!base && endpoint) base = endpointUrl(endpoint, '/widget/', null);
    if (!base) throw new Error('resumable widget: set assetBase (where resumable-hash-worker.js is served)');
    return /\/$/.test(base) ? base : base + '/';
  }

  // Hashes a file without uploading it: {identifier, chunkCount, chunks: [{number, offset, size,
  // digest}], fileDigest}. Useful on its own, and the same pipeline the uploads use.
  function hashFile(file, options) {
    options = assign({ chunkSize: DEFAULT_OPTIONS.chunkSize, forceChunkSize: false }, options);
    var base = resolveAssetBase(options.assetBase, options.endpoint);
    return new Promise(function (resolve, reject) {
      var result = { identifier: null, chunkCount: 0, chunks: [], fileDigest: null };
      hashPool.start(base, file, options.chunkSize, !!options.forceChunkSize, function (message) {
        if (message.type === 'chunks') {
          result.chunkCount = message.chunkCount;
          if (message.identifier) result.identifier = message.identifier;
          for (var i = 0; i < message.digests.length; i++) {
            result.chunks.push({ number: message.firstNumber + i, offset: message.spans[2 * i],
              size: message.spans[2 * i + 1], digest: message.digests[i] });
          }
          if (options.onProgress) options.onProgress(message.hashedBytes, file.size);
        } else if (message.type === 'done') {
          result.fileDigest = message.fileDigest;
          resolve(result);
        } else {
          reject(new Error(message.message));
        }
      });
    });
  }

  // ---- Transport --------------------------------------------------------------------------------
  function endpointUrl(endpoint, suffix, params) {
    var base = typeof document !== 'undefined' ? document.baseURI : root.location && root.location.href;
    var url = new URL(endpoint, base);
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

  // One request. The callback gets {status, body, text, retryAfter, timedOut} exactly once, unless
  // the returned handle's abort() is called first (then never: whoever aborts does the accounting).
  function sendRequest(request, onDone) {
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
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
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

  function describeFailure(response, messages) {
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

  // Exponential backoff with "equal jitter": the wait doubles per attempt up to maxDelay, and a
  // random half of it keeps many clients that failed together from retrying together.
  function retryDelay(attempt, baseDelay, maxDelay, retryAfterHeader) {
    var ceiling = Math.min(maxDelay, baseDelay * Math.pow(2, Math.max(0, attempt - 1)));
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    var serverAsked = Number(retryAfterHeader) * 1000;
    if (serverAsked > delay) delay = Math.min(maxDelay, serverAsked);
    return Math.round(delay);
  }

  // ---- One file -----------------------------------------------------------------------------------
  var fileSequence = 0;

  // What the Uploader knows about one file. Read its fields; change it only through the Uploader.
  function UploadFile(uploader, file, relativePath) {
    this.uploader = uploader;
    this.id = 'rsm-file-' + (++fileSequence);
    this.file = file;
    this.name = file.name;
    this.size = file.size;
    this.type = file.type || '';
    this.relativePath = relativePath || file.webkitRelativePath || file.name;
    this.chunkSize = uploader.options.chunkSize;
    this.forceChunkSize = !!uploader.options.forceChunkSize;
    this.identifier = null;
    this.chunkCount = 0;
    this.fileDigest = null;
    this.hashedBytes = 0;
    this.state = null;
    this.result = null;
    this.error = null;
    this._reset();
  }

  UploadFile.prototype._reset = function () {
    this.phase = 'hashing'; // hashing → uploading → verifying → done | failed | cancelled
    this.paused = false;
    this.started = false;
    this.chunks = [];        // by number − 1, filled in as the hasher reports chunks
    this.readyChunks = [];   // chunk numbers to send, in order; stale entries are skipped
    this.readyHead = 0;
    this.serverDigests = null; // chunk number → digest the server holds (from the status request)
    this.serverFileDigest = null;
    this.statusKnown = false;
    this.statusRequest = null;
    this.statusTimer = null;
    this.statusAttempts = 0;
    this.unsentCount = 0;    // chunks neither stored, nor on the wire, nor held by the server
    this.storedCount = 0;
    this.storedBytes = 0;
    this.inflight = {};      // chunk number → request handle
    this.inflightCount = 0;
    this.backoffCount = 0;
    this.bytesSent = 0;
    this.speedSamples = [];
    this.speed = 0;
    this.restartedAfterChange = false;
    this.hashJob = null;
    this.result = null;
    this.error = null;
  };

  UploadFile.prototype.uploadedBytes = function () {
    if (this.phase === 'done') return this.size;
    var bytes = this.storedBytes;
    for (var number in this.inflight) bytes += this.chunks[number - 1].loaded;
    return Math.min(bytes, this.size);
  };
  UploadFile.prototype.progress = function () {
    if (this.phase === 'done') return 1;
    return this.size > 0 ? this.uploadedBytes() / this.size : 0;
  };
  UploadFile.prototype.isTerminal = function () { return !!TERMINAL_PHASES[this.phase]; };
  UploadFile.prototype.timeLeft = function () {
    return this.speed > 0 ? (this.size - this.uploadedBytes()) / this.speed : Infinity;
  };

  // ---- The Uploader -------------------------------------------------------------------------------
  function Uploader(options) {
    Emitter.call(this);
    this.options = assign({}, DEFAULT_OPTIONS, options);
    this.options.accept = typeof this.options.accept === 'string' ? parseAccept(this.options.accept) : this.options.accept;
    this.messages = assign({}, DEFAULT_MESSAGES, this.options.messages);
    if (!this.options.endpoint) throw new Error('resumable widget: the endpoint option is required');
    if (!(this.options.chunkSize >= 1)) throw new Error('resumable widget: chunkSize must be at least 1 byte');
    this.assetBase = resolveAssetBase(this.options.assetBase, this.options.endpoint);
    this.files = [];
    this.activeRequests = 0;
    this.progressTimer = null;
    this.settledSinceComplete = false;
    var self = this;
    // Back online: retry now instead of waiting out the backoff.
    this._onOnline = function () { self.retryWaitingNow(); };
    if (root.addEventListener) root.addEventListener('online', this._onOnline);
  }
  Uploader.prototype = Object.create(Emitter.prototype);
  Uploader.prototype.constructor = Uploader;

  // Adds files (a FileList, Files, or {file, relativePath} objects); returns the UploadFiles that
  // passed the restrictions. Rejected ones are reported by 'file-rejected' events.
  Uploader.prototype.addFiles = function (items) {
    var entries = Array.prototype.map.call(items || [], function (item) {
      return item && item.file ? item : { file: item, relativePath: null };
    });
    var added = [];
    var room = this.options.maxFiles - this.files.length;
    for (var i = 0; i < entries.length; i++) {
      var entry = entries[i];
      var rejection = this.restrictionFor(entry.file, entry.relativePath);
      if (!rejection && added.length >= room) {
        rejection = { code: 'too_many_files', message: messageText(this.messages, 'tooManyFiles', entry.file.name, this.options.maxFiles) };
      }
      if (rejection) {
        this.emit('file-rejected', { file: entry.file, relativePath: entry.relativePath, code: rejection.code, message: rejection.message });
        continue;
      }
      var uploadFile = new UploadFile(this, entry.file, entry.relativePath);
      this.files.push(uploadFile);
      added.push(uploadFile);
      uploadFile.started = !!this.options.autoStart;
      this.startHashing(uploadFile);
      this.refreshState(uploadFile);
      this.emit('file-added', { file: uploadFile });
    }
    if (added.length) this.settledSinceComplete = false;
    this.pump();
    return added;
  };

  Uploader.prototype.restrictionFor = function (file, relativePath) {
    var options = this.options;
    var messages = this.messages;
    if (file.size > options.maxFileSize) return { code: 'file_too_large', message: messageText(messages, 'tooLarge', file.name, options.maxFileSize) };
    if (file.size < options.minFileSize) return { code: 'file_too_small', message: messageText(messages, 'tooSmall', file.name, options.minFileSize) };
    if (!acceptsFile(options.accept, file)) return { code: 'type_not_allowed', message: messageText(messages, 'typeNotAllowed', file.name, options.accept) };
    var path = relativePath || file.webkitRelativePath || file.name;
    for (var i = 0; i < this.files.length; i++) {
      var other = this.files[i];
      if (other.name === file.name && other.size === file.size && other.file.lastModified === file.lastModified && other.relativePath === path) {
        return { code: 'duplicate', message: messageText(messages, 'duplicate', file.name) };
      }
    }
    return null;
  };

  Uploader.prototype.startHashing = function (uploadFile) {
    var self = this;
    uploadFile.hashJob = hashPool.start(this.assetBase, uploadFile.file, uploadFile.chunkSize, uploadFile.forceChunkSize,
      function (message) {
        if (uploadFile.isTerminal()) return;
        if (message.type === 'chunks') self.onChunksHashed(uploadFile, message);
        else if (message.type === 'done') self.onFileHashed(uploadFile, message.fileDigest);
        else self.fail(uploadFile, { code: 'read_error', status: 0, message: messageText(self.messages, 'readError', message.message), retryable: false });
      });
    if (uploadFile.paused) hashPool.control('pause', uploadFile.hashJob);
  };

  Uploader.prototype.onChunksHashed = function (uploadFile, message) {
    if (!uploadFile.chunkCount) {
      uploadFile.chunkCount = message.chunkCount;
      uploadFile.unsentCount = message.chunkCount;
    }
    for (var i = 0; i < message.digests.length; i++) {
      var chunk = { number: message.firstNumber + i, offset: message.spans[2 * i], size: message.spans[2 * i + 1],
        digest: message.digests[i], stored: false, attempts: 0, loaded: 0, retryTimer: null };
      uploadFile.chunks[chunk.number - 1] = chunk;
      if (uploadFile.statusKnown) this.acceptHashedChunk(uploadFile, chunk);
    }
    uploadFile.hashedBytes = message.hashedBytes;
    if (message.identifier) {
      uploadFile.identifier = message.identifier;
      this.emit('file-identified', { file: uploadFile, identifier: uploadFile.identifier });
      this.requestStatus(uploadFile);
    }
    this.emit('hash-progress', { file: uploadFile, hashedBytes: uploadFile.hashedBytes, bytesTotal: uploadFile.size });
    this.pump();
  };

  Uploader.prototype.onFileHashed = function (uploadFile, fileDigest) {
    uploadFile.fileDigest = fileDigest;
    uploadFile.hashedBytes = uploadFile.size;
    this.emit('file-hashed', { file: uploadFile, fileDigest: fileDigest });
    if (uploadFile.serverFileDigest && uploadFile.serverFileDigest !== fileDigest) {
      this.restartChangedFile(uploadFile);
      return;
    }
    if (uploadFile.phase === 'verifying' && uploadFile.result) this.verifyResult(uploadFile);
    this.pump(); // the chunk held back for the file digest may go now
  };

  // A hashed chunk joins the send queue unless the server already holds it with the same digest.
  Uploader.prototype.acceptHashedChunk = function (uploadFile, chunk) {
    var held = uploadFile.serverDigests ? uploadFile.serverDigests[chunk.number] : undefined;
    if (held === undefined) {
      uploadFile.readyChunks.push(chunk.number);
    } else if (held === chunk.digest) {
      this.markStored(uploadFile, chunk);
    } else {
      this.restartChangedFile(uploadFile);
    }
  };

  Uploader.prototype.markStored = function (uploadFile, chunk) {
    if (chunk.stored) return;
    chunk.stored = true;
    uploadFile.storedCount++;
    uploadFile.storedBytes += chunk.size;
    this.scheduleProgress();
  };

  // Resume is one request: which chunks does the server hold, and with which digests?
  Uploader.prototype.requestStatus = function (uploadFile) {
    if (uploadFile.statusKnown || uploadFile.statusRequest || uploadFile.statusTimer || !uploadFile.identifier) return;
    if (!uploadFile.started || uploadFile.paused || uploadFile.isTerminal()) return;
    var self = this;
    uploadFile.statusRequest = this.request(uploadFile, 'GET', '/status', { identifier: uploadFile.identifier }, null,
      function (response) {
        uploadFile.statusRequest = null;
        self.onStatus(uploadFile, response);
      });
  };

  Uploader.prototype.onStatus = function (uploadFile, response) {
    var body = response.body;
    if (response.status === 200 && body && body.status === 'complete') {
      uploadFile.statusKnown = true;
      this.handleFinalResult(uploadFile, body);
      return;
    }
    if (response.status === 200 && body && body.status === 'partial') {
      if (body.totalSize !== uploadFile.size || body.chunkSize !== uploadFile.chunkSize || body.chunkCount !== uploadFile.chunkCount) {
        this.restartChangedFile(uploadFile);
        return;
      }
      var held = {};
      var heldCount = 0;
      var ranges = body.received || [];
      for (var r = 0; r < ranges.length; r++) {
        for (var number = ranges[r][0]; number <= ranges[r][1]; number++) held[number] = body.digests[heldCount++];
      }
      if (uploadFile.fileDigest && body.fileDigest && body.fileDigest !== uploadFile.fileDigest) {
        this.restartChangedFile(uploadFile);
        return;
      }
      this.markKnownStatus(uploadFile, held, heldCount, body.fileDigest || null);
      return;
    }
    if (response.status === 404 && body && body.error === 'upload_not_found') {
      this.markKnownStatus(uploadFile, null, 0, null);
      return;
    }
    var failure = describeFailure(response, this.messages);
    if (failure.retryable && uploadFile.statusAttempts < this.options.maxRetries) {
      var self = this;
      uploadFile.statusAttempts++;
      var delay = retryDelay(uploadFile.statusAttempts, this.options.retryDelay, this.options.maxRetryDelay, response.retryAfter);
      uploadFile.backoffCount++;
      uploadFile.statusTimer = setTimeout(function () {
        uploadFile.statusTimer = null;
        uploadFile.backoffCount--;
        self.requestStatus(uploadFile);
        self.refreshState(uploadFile);
      }, delay);
      this.emit('file-retry', { file: uploadFile, chunk: null, attempt: uploadFile.statusAttempts, delay: delay, error: failure });
      this.refreshState(uploadFile);
      return;
    }
    this.fail(uploadFile, failure);
  };

  // From here on the file's progress is what the server holds (`held`: chunk number → digest, or
  // null for nothing) plus what this page sends; no chunk is on the wire when this is called.
  Uploader.prototype.markKnownStatus = function (uploadFile, held, heldCount, serverFileDigest) {
    uploadFile.serverDigests = held;
    uploadFile.serverFileDigest = serverFileDigest;
    uploadFile.statusKnown = true;
    uploadFile.statusAttempts = 0;
    uploadFile.phase = 'uploading';
    uploadFile.unsentCount = uploadFile.chunkCount - heldCount;
    uploadFile.storedCount = 0;
    uploadFile.storedBytes = 0;
    uploadFile.readyChunks = [];
    uploadFile.readyHead = 0;
    for (var i = 0; i < uploadFile.chunks.length; i++) {
      var chunk = uploadFile.chunks[i];
      if (!chunk) continue;
      chunk.stored = false;
      this.acceptHashedChunk(uploadFile, chunk);
      if (uploadFile.phase !== 'uploading') return; // a changed file restarted everything
    }
    this.refreshState(uploadFile);
    this.pump();
  };

  // The server's part of this upload came from a different file (same name, size, date and first
  // chunk, but other bytes): discard it and start over, once. Never mix the two.
  Uploader.prototype.restartChangedFile = function (uploadFile) {
    if (uploadFile.restartedAfterChange) {
      this.fail(uploadFile, { code: 'file_changed', status: 0, message: this.messages.serverCopyDiffers, retryable: false });
      return;
    }
    this.emit('file-changed', { file: uploadFile });
    this.stopTransfers(uploadFile);
    uploadFile.restartedAfterChange = true;
    uploadFile.statusKnown = false;
    uploadFile.result = null;
    uploadFile.phase = 'hashing';
    var self = this;
    // Until the server confirms the old part is gone, nothing is sent, so no chunk can meet it.
    uploadFile.statusRequest = this.request(uploadFile, 'DELETE', '', { identifier: uploadFile.identifier }, null, function () {
      uploadFile.statusRequest = null;
      if (!uploadFile.isTerminal()) self.markKnownStatus(uploadFile, null, 0, null);
    });
    this.refreshState(uploadFile);
  };

  // Sends as many chunks as the concurrency limit allows, oldest file first.
  Uploader.prototype.pump = function () {
    for (var i = 0; i < this.files.length && this.activeRequests < this.options.simultaneousUploads; i++) {
      var uploadFile = this.files[i];
      if (!uploadFile.started || uploadFile.paused || !uploadFile.statusKnown || uploadFile.phase !== 'uploading') continue;
      for (var chunk = this.nextChunkToSend(uploadFile); chunk; chunk = this.nextChunkToSend(uploadFile)) {
        this.sendChunk(uploadFile, chunk);
        if (this.activeRequests >= this.options.simultaneousUploads) break;
      }
    }
    this.checkAllSettled();
  };

  Uploader.prototype.nextChunkToSend = function (uploadFile) {
    var queue = uploadFile.readyChunks;
    while (uploadFile.readyHead < queue.length) {
      var chunk = uploadFile.chunks[queue[uploadFile.readyHead] - 1];
      if (chunk.stored || uploadFile.inflight[chunk.number] || chunk.retryTimer) {
        uploadFile.readyHead++;
        continue;
      }
      // The last chunk to go carries the whole file's digest, so the server verifies the file
      // before releasing it: hold it back until the hasher has finished.
      if (!uploadFile.fileDigest && uploadFile.unsentCount <= 1) return null;
      uploadFile.readyHead++;
      if (uploadFile.readyHead > 4096 && uploadFile.readyHead * 2 > queue.length) {
        uploadFile.readyChunks = queue.slice(uploadFile.readyHead);
        uploadFile.readyHead = 0;
      }
      return chunk;
    }
    return null;
  };

  Uploader.prototype.sendChunk = function (uploadFile, chunk) {
    var self = this;
    var params = {
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
    uploadFile.unsentCount--;
    uploadFile.inflightCount++;
    this.activeRequests++;
    chunk.loaded = 0;
    uploadFile.inflight[chunk.number] = this.request(uploadFile, 'POST', '', params,
      uploadFile.file.slice(chunk.offset, chunk.offset + chunk.size),
      function (response) {
        self.releaseChunkRequest(uploadFile, chunk);
        self.onChunkResponse(uploadFile, chunk, response);
      },
      function (loaded) {
        uploadFile.bytesSent += loaded - chunk.loaded;
        chunk.loaded = loaded;
        self.scheduleProgress();
      });
    this.refreshState(uploadFile);
  };

  Uploader.prototype.releaseChunkRequest = function (uploadFile, chunk) {
    delete uploadFile.inflight[chunk.number];
    uploadFile.inflightCount--;
    this.activeRequests--;
    chunk.loaded = 0;
  };

  Uploader.prototype.onChunkResponse = function (uploadFile, chunk, response) {
    var body = response.body;
    if (response.status === 200 && body && body.status === 'complete') {
      this.handleFinalResult(uploadFile, body);
      this.pump();
      return;
    }
    if (response.status === 200 && body && body.status === 'chunk_stored') {
      chunk.attempts = 0;
      this.markStored(uploadFile, chunk);
      this.emit('chunk-stored', { file: uploadFile, chunk: chunk.number, duplicate: !!body.duplicate });
      // Every chunk stored yet no final result (it went missing): ask for it.
      if (uploadFile.storedCount === uploadFile.chunkCount && !uploadFile.result) {
        uploadFile.phase = 'verifying';
        uploadFile.statusKnown = false;
        this.requestStatus(uploadFile);
      }
      this.refreshState(uploadFile);
      this.pump();
      return;
    }
    uploadFile.unsentCount++;
    var failure = describeFailure(response, this.messages);
    if (failure.retryable && chunk.attempts < this.options.maxRetries) {
      chunk.attempts++;
      this.retryChunkLater(uploadFile, chunk, failure, response.retryAfter);
    } else {
      this.fail(uploadFile, failure);
    }
    this.pump();
  };

  Uploader.prototype.retryChunkLater = function (uploadFile, chunk, failure, retryAfter) {
    var self = this;
    var delay = retryDelay(chunk.attempts, this.options.retryDelay, this.options.maxRetryDelay, retryAfter);
    uploadFile.backoffCount++;
    chunk.retryTimer = setTimeout(function () { self.retryChunkNow(uploadFile, chunk); }, delay);
    this.emit('file-retry', { file: uploadFile, chunk: chunk.number, attempt: chunk.attempts, delay: delay, error: failure });
    this.refreshState(uploadFile);
  };

  Uploader.prototype.retryChunkNow = function (uploadFile, chunk) {
    if (!chunk.retryTimer) return;
    clearTimeout(chunk.retryTimer);
    chunk.retryTimer = null;
    uploadFile.backoffCount--;
    uploadFile.readyChunks.push(chunk.number);
    this.refreshState(uploadFile);
    this.pump();
  };

  Uploader.prototype.retryWaitingNow = function () {
    for (var i = 0; i < this.files.length; i++) {
      var uploadFile = this.files[i];
      for (var c = 0; c < uploadFile.chunks.length; c++) {
        if (uploadFile.chunks[c] && uploadFile.chunks[c].retryTimer) this.retryChunkNow(uploadFile, uploadFile.chunks[c]);
      }
      if (uploadFile.statusTimer) {
        clearTimeout(uploadFile.statusTimer);
        uploadFile.statusTimer = null;
        uploadFile.backoffCount--;
        this.requestStatus(uploadFile);
      }
    }
  };

  Uploader.prototype.handleFinalResult = function (uploadFile, result) {
    this.stopTransfers(uploadFile);
    uploadFile.result = result;
    uploadFile.phase = 'verifying';
    for (var i = 0; i < uploadFile.chunks.length; i++) if (uploadFile.chunks[i]) this.markStored(uploadFile, uploadFile.chunks[i]);
    uploadFile.storedBytes = uploadFile.size;
    this.refreshState(uploadFile);
    if (uploadFile.fileDigest) this.verifyResult(uploadFile);
  };

  // The server's digest of what it stored must equal ours of what we read, whatever path led here
  // (fresh upload, resume, or an upload another tab finished).
  Uploader.prototype.verifyResult = function (uploadFile) {
    var result = uploadFile.result;
    if (result.blake2b256 !== uploadFile.fileDigest || result.size !== uploadFile.size) {
      this.fail(uploadFile, { code: 'file_digest_mismatch', status: 0, message: this.messages.serverCopyDiffers, retryable: false });
      return;
    }
    uploadFile.phase = 'done';
    uploadFile.speed = 0;
    this.refreshState(uploadFile);
    this.scheduleProgress();
    this.emit('file-success', { file: uploadFile, result: result });
    this.checkAllSettled();
  };

  Uploader.prototype.fail = function (uploadFile, failure) {
    if (uploadFile.isTerminal()) return;
    this.stopTransfers(uploadFile);
    hashPool.control('cancel', uploadFile.hashJob);
    uploadFile.phase = 'failed';
    uploadFile.speed = 0;
    uploadFile.error = { code: failure.code, status: failure.status, message: failure.message };
    this.refreshState(uploadFile);
    this.emit('file-error', { file: uploadFile, error: uploadFile.error });
    this.pump();
  };

  // Aborts the file's requests and retry timers; the chunks go back to the queue.
  Uploader.prototype.stopTransfers = function (uploadFile) {
    for (var number in uploadFile.inflight) {
      var chunk = uploadFile.chunks[number - 1];
      uploadFile.inflight[number].abort();
      uploadFile.bytesSent -= chunk.loaded;
      this.releaseChunkRequest(uploadFile, chunk);
      uploadFile.unsentCount++;
      uploadFile.readyChunks.push(chunk.number);
    }
    for (var i = 0; i < uploadFile.chunks.length; i++) {
      var waiting = uploadFile.chunks[i];
      if (waiting && waiting.retryTimer) {
        clearTimeout(waiting.retryTimer);
        waiting.retryTimer = null;
        uploadFile.readyChunks.push(waiting.number);
      }
    }
    if (uploadFile.statusRequest) uploadFile.statusRequest.abort();
    if (uploadFile.statusTimer) clearTimeout(uploadFile.statusTimer);
    uploadFile.statusRequest = uploadFile.statusTimer = null;
    uploadFile.backoffCount = 0;
    uploadFile.speedSamples = [];
    uploadFile.speed = 0;
  };

  Uploader.prototype.request = function (uploadFile, method, suffix, params, body, onDone, onUploadProgress) {
    var options = this.options;
    var extraQuery = typeof options.query === 'function' ? options.query(uploadFile) : options.query;
    // Page-wide headers (configure({headers})) first, then this uploader's: read at every request, so
    // a page may configure them before or after its inputs were enhanced (e.g. a CSRF token).
    var pageHeaders = typeof globalConfig.headers === 'function' ? globalConfig.headers(uploadFile) : globalConfig.headers;
    var ownHeaders = typeof options.headers === 'function' ? options.headers(uploadFile) : options.headers;
    var headers = assign({}, pageHeaders, ownHeaders);
    return sendRequest({
      method: method,
      url: endpointUrl(options.endpoint, suffix, assign({}, extraQuery, params)),
      headers: headers,
      body: body,
      withCredentials: options.withCredentials,
      stallTimeout: options.stallTimeout,
      responseTimeout: options.responseTimeout,
      onUploadProgress: onUploadProgress
    }, onDone);
  };

  // ---- Control --------------------------------------------------------------------------------------
  Uploader.prototype.pause = function (uploadFile) {
    if (!uploadFile) { this.files.forEach(this.pause, this); return; }
    if (uploadFile.paused || uploadFile.isTerminal()) return;
    uploadFile.paused = true;
    this.stopTransfers(uploadFile);
    // Requests cut short may still have been stored, and a long pause lets other tabs progress:
    // resuming starts with a fresh status request instead of trusting what this page knew.
    if (!uploadFile.result) uploadFile.statusKnown = false;
    hashPool.control('pause', uploadFile.hashJob);
    this.refreshState(uploadFile);
    this.emit('file-paused', { file: uploadFile });
    this.pump();
  };

  Uploader.prototype.resume = function (uploadFile) {
    if (!uploadFile) { this.files.forEach(this.resume, this); return; }
    if (uploadFile.isTerminal() || (!uploadFile.paused && uploadFile.started)) return;
    var wasPaused = uploadFile.paused;
    uploadFile.paused = false;
    uploadFile.started = true;
    hashPool.control('resume', uploadFile.hashJob);
    this.requestStatus(uploadFile);
    this.refreshState(uploadFile);
    if (wasPaused) this.emit('file-resumed', { file: uploadFile });
    this.pump();
  };

  // Starts files added with autoStart: false, and resumes paused ones.
  Uploader.prototype.upload = function () { this.resume(); };

  // Stops the file, tells the server to delete its data (a partial upload, or a finished one nobody
  // has claimed yet), and drops it from the list.
  Uploader.prototype.cancel = function (uploadFile) {
    if (!uploadFile) { this.files.slice().forEach(function (file) { this.cancel(file); }, this); return; }
    if (this.files.indexOf(uploadFile) < 0) return;
    var hadServerState = !!uploadFile.identifier && uploadFile.started;
    this.discard(uploadFile);
    if (hadServerState) this.deleteOnServer(uploadFile, 3);
    this.emit('file-cancelled', { file: uploadFile });
    this.emit('file-removed', { file: uploadFile });
    this.checkAllSettled();
  };

  // Drops the file from the list without telling the server: for finished uploads that the page
  // has handed on (the application will claim them).
  Uploader.prototype.forget = function (uploadFile) {
    if (this.files.indexOf(uploadFile) < 0) return;
    this.discard(uploadFile);
    this.emit('file-removed', { file: uploadFile });
    this.checkAllSettled();
  };

  Uploader.prototype.discard = function (uploadFile) {
    this.stopTransfers(uploadFile);
    hashPool.control('cancel', uploadFile.hashJob);
    if (uploadFile.phase !== 'done') uploadFile.phase = 'cancelled';
    this.files.splice(this.files.indexOf(uploadFile), 1);
    this.refreshState(uploadFile);
    this.scheduleProgress();
    this.pump();
  };

  Uploader.prototype.deleteOnServer = function (uploadFile, attemptsLeft) {
    var self = this;
    this.request(uploadFile, 'DELETE', '', { identifier: uploadFile.identifier }, null, function (response) {
      var failure = response.status === 204 || response.status === 200 ? null : describeFailure(response, self.messages);
      if (failure && failure.retryable && attemptsLeft > 1) {
        setTimeout(function () { self.deleteOnServer(uploadFile, attemptsLeft - 1); },
          retryDelay(4 - attemptsLeft, self.options.retryDelay, self.options.maxRetryDelay, response.retryAfter));
      }
    });
  };

  // Starts a failed file again from scratch (rereading and rehashing it).
  Uploader.prototype.retry = function (uploadFile) {
    if (uploadFile.phase !== 'failed') return;
    uploadFile._reset();
    uploadFile.chunkCount = 0;
    uploadFile.fileDigest = null;
    uploadFile.hashedBytes = 0;
    uploadFile.started = true;
    this.settledSinceComplete = false;
    this.startHashing(uploadFile);
    this.refreshState(uploadFile);
    this.emit('file-retry', { file: uploadFile, chunk: null, attempt: 0, delay: 0, error: null });
    this.pump();
  };

  Uploader.prototype.destroy = function () {
    this.files.slice().forEach(this.forget, this);
    if (root.removeEventListener) root.removeEventListener('online', this._onOnline);
    clearTimeout(this.progressTimer);
  };

  // ---- State and progress ------------------------------------------------------------------------
  Uploader.prototype.refreshState = function (uploadFile) {
    var state;
    if (uploadFile.isTerminal()) state = uploadFile.phase;
    else if (uploadFile.paused) state = 'paused';
    else if (!uploadFile.started) state = 'queued';
    else if (uploadFile.phase === 'verifying') state = 'verifying';
    else if (uploadFile.inflightCount === 0 && uploadFile.backoffCount > 0) state = 'retrying';
    else if (uploadFile.phase === 'hashing') state = 'hashing';
    else state = 'uploading';
    if (state === uploadFile.state) return;
    var previous = uploadFile.state;
    uploadFile.state = state;
    this.emit('state-change', { file: uploadFile, state: state, previous: previous });
  };

  Uploader.prototype.isBusy = function () {
    return this.files.some(function (file) { return !file.isTerminal(); });
  };

  Uploader.prototype.checkAllSettled = function () {
    if (this.settledSinceComplete || this.files.length === 0 || this.isBusy()) return;
    this.settledSinceComplete = true;
    var succeeded = this.files.filter(function (file) { return file.phase === 'done'; });
    var failed = this.files.filter(function (file) { return file.phase === 'failed'; });
    this.emit('complete', { succeeded: succeeded, failed: failed });
  };

  Uploader.prototype.scheduleProgress = function () {
    if (this.progressTimer) return;
    var self = this;
    this.progressTimer = setTimeout(function () {
      self.progressTimer = null;
      self.reportProgress();
    }, this.options.progressInterval);
  };

  Uploader.prototype.reportProgress = function () {
    var now = Date.now();
    for (var i = 0; i < this.files.length; i++) {
      var uploadFile = this.files[i];
      updateSpeed(uploadFile, now);
      var uploaded = uploadFile.uploadedBytes();
      if (uploaded === uploadFile.reportedBytes && uploadFile.speed === uploadFile.reportedSpeed) continue;
      uploadFile.reportedBytes = uploaded;
      uploadFile.reportedSpeed = uploadFile.speed;
      this.emit('upload-progress', { file: uploadFile, bytesUploaded: uploaded, bytesTotal: uploadFile.size,
        speed: uploadFile.speed, timeLeft: uploadFile.timeLeft() });
    }
    this.emit('progress', this.totals());
    // Keep the speed figures moving while bytes flow but no event arrives (one slow request).
    if (this.files.some(function (file) { return file.inflightCount > 0; })) this.scheduleProgress();
  };

  // Bytes per second over the last five seconds of this session's sending (chunks the server
  // already had do not count as speed).
  function updateSpeed(uploadFile, now) {
    var samples = uploadFile.speedSamples;
    if (uploadFile.inflightCount === 0 && uploadFile.state !== 'uploading') {
      uploadFile.speedSamples = [];
      uploadFile.speed = 0;
      return;
    }
    samples.push([now, uploadFile.bytesSent]);
    while (samples.length > 2 && now - samples[1][0] >= 5000) samples.shift();
    var first = samples[0];
    var elapsed = now - first[0];
    if (elapsed >= 500) uploadFile.speed = Math.max(0, (uploadFile.bytesSent - first[1]) * 1000 / elapsed);
  }

  Uploader.prototype.totals = function () {
    var totals = { bytesUploaded: 0, bytesTotal: 0, speed: 0, timeLeft: Infinity, files: this.files.length };
    for (var i = 0; i < this.files.length; i++) {
      totals.bytesUploaded += this.files[i].uploadedBytes();
      totals.bytesTotal += this.files[i].size;
      totals.speed += this.files[i].speed;
    }
    if (totals.speed > 0) totals.timeLeft = (totals.bytesTotal - totals.bytesUploaded) / totals.speed;
    return totals;
  };

  Uploader.prototype.progress = function () {
    var totals = this.totals();
    return totals.bytesTotal > 0 ? totals.bytesUploaded / totals.bytesTotal : 0;
  };

  // ---- Dropped files and folders -------------------------------------------------------------------
  // Resolves to [{file, relativePath}] for everything dropped, walking into folders.
  function filesFromDrop(dataTransfer) {
    var items = dataTransfer.items;
    var entries = [];
    if (items && items.length && typeof items[0].webkitGetAsEntry === 'function') {
      // Entries must be taken during the drop event itself; reading them may happen later.
      for (var i = 0; i < items.length; i++) {
        var entry = items[i].kind === 'file' ? items[i].webkitGetAsEntry() : null;
        if (entry) entries.push(entry);
      }
    }
    if (entries.length === 0) {
      return Promise.resolve(Array.prototype.map.call(dataTransfer.files || [], function (file) {
        return { file: file, relativePath: null };
      }));
    }
    return Promise.all(entries.map(function (entry) { return filesFromEntry(entry, ''); })).then(flatten);
  }

  function filesFromEntry(entry, path) {
    if (entry.isFile) {
      return new Promise(function (resolve, reject) {
        entry.file(function (file) { resolve([{ file: file, relativePath: path + file.name }]); }, reject);
      });
    }
    var reader = entry.createReader();
    var children = [];
    // readEntries returns at most 100 entries per call: read until it returns none.
    return new Promise(function readMore(resolve, reject) {
      reader.readEntries(function (batch) {
        if (batch.length === 0) { resolve(children); return; }
        children = children.concat(batch);
        readMore(resolve, reject);
      }, reject);
    }).then(function (found) {
      return Promise.all(found.map(function (child) { return filesFromEntry(child, path + entry.name + '/'); }));
    }).then(flatten);
  }

  function flatten(lists) { return [].concat.apply([], lists); }

  function acceptsDrag(event) {
    var types = event.dataTransfer && event.dataTransfer.types;
    return !!types && Array.prototype.indexOf.call(types, 'Files') >= 0;
  }

  // Makes `element` a drop target that hands dropped files (folders walked) to `onFiles`.
  function attachDropTarget(element, onFiles, activeClass) {
    var depth = 0;
    function over(event) {
      if (!acceptsDrag(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    }
    function enter(event) {
      if (!acceptsDrag(event)) return;
      event.preventDefault();
      if (depth++ === 0 && activeClass) element.classList.add(activeClass);
    }
    function leave() {
      if (depth > 0 && --depth === 0 && activeClass) element.classList.remove(activeClass);
    }
    function drop(event) {
      if (!acceptsDrag(event)) return;
      event.preventDefault();
      depth = 0;
      if (activeClass) element.classList.remove(activeClass);
      filesFromDrop(event.dataTransfer).then(function (files) { onFiles(files, event); });
    }
    element.addEventListener('dragover', over);
    element.addEventListener('dragenter', enter);
    element.addEventListener('dragleave', leave);
    element.addEventListener('drop', drop);
    return function detach() {
      element.removeEventListener('dragover', over);
      element.removeEventListener('dragenter', enter);
      element.removeEventListener('dragleave', leave);
      element.removeEventListener('drop', drop);
    };
  }

  // ---- The form widget -------------------------------------------------------------------------------
  var widgets = typeof WeakMap === 'function' ? new WeakMap() : null;
  var WIDGET_EVENTS = ['file-added', 'file-rejected', 'file-removed', 'file-identified', 'hash-progress', 'file-hashed',
    'state-change', 'upload-progress', 'progress', 'chunk-stored', 'file-retry', 'file-paused', 'file-resumed',
    'file-cancelled', 'file-changed', 'file-success', 'file-error', 'complete'];

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, text) {
    var node = element('button', className, text);
    node.type = 'button';
    return node;
  }

  function optionsFromInput(input) {
    var data = input.dataset;
    var options = { endpoint: input.getAttribute('data-resumable') };
    if (data.resumableChunkSize) options.chunkSize = parseSize(data.resumableChunkSize);
    if (data.resumableSimultaneousUploads) options.simultaneousUploads = Number(data.resumableSimultaneousUploads);
    if (data.resumableMaxSize) options.maxFileSize = parseSize(data.resumableMaxSize);
    if (data.resumableMinSize) options.minFileSize = parseSize(data.resumableMinSize);
    if (data.resumableMaxFiles) options.maxFiles = Number(data.resumableMaxFiles);
    if (data.resumableAssetBase) options.assetBase = data.resumableAssetBase;
    if (data.resumableSubmit) options.submit = data.resumableSubmit;
    if (data.resumableCurrentName) options.currentName = data.resumableCurrentName;
    if (data.resumableCurrentUrl) options.currentUrl = data.resumableCurrentUrl;
    if (data.resumableClearName) options.clearName = data.resumableClearName;
    if (input.accept) options.accept = parseAccept(input.accept);
    return options;
  }

  // Enhances one <input type="file"> inside (or owned by) a form: see the README for the attributes.
  function Widget(input, options) {
    var self = this;
    this.input = input;
    this.form = input.form;
    this.multiple = input.multiple;
    this.options = assign({ submit: 'block', stylesheet: globalConfig.stylesheet }, optionsFromInput(input), options);
    if (!this.multiple) this.options.maxFiles = 1;
    this.fieldName = input.getAttribute('name') || '';
    this.required = input.required;
    this.uploader = new Uploader(this.options);
    this.messages = this.uploader.messages;
    this.rows = {};
    this.rejections = [];
    this.waitingToSubmit = false;
    this.submitter = null;

    // The native input stays as the file picker but no longer submits bytes: the form carries the
    // finished upload's token instead, under the input's original name.
    input.removeAttribute('name');
    input.required = false;
    input.classList.add('rsm-native');
    input.tabIndex = -1;
    input.setAttribute('aria-hidden', 'true');
    if (this.options.stylesheet) ensureStylesheet(this.uploader.assetBase);
    this.buildDom();

    this.onInputChange = function () {
      var files = Array.prototype.slice.call(input.files || []);
      input.value = '';
      self.addFiles(files.map(function (file) { return { file: file, relativePath: null }; }));
    };
    input.addEventListener('change', this.onInputChange);
    this.detachDrop = attachDropTarget(this.dropZone, function (files) { self.addFiles(files); }, 'rsm-dragover');
    this.onSubmit = function (event) { self.checkSubmit(event); };
    if (this.form) this.form.addEventListener('submit', this.onSubmit, true);

    WIDGET_EVENTS.forEach(function (type) {
      self.uploader.on(type, function (detail) {
        input.dispatchEvent(new CustomEvent(type, { bubbles: true, detail: detail }));
      });
    });
    this.uploader.on('file-added', function (detail) { self.addRow(detail.file); self.announce(messageText(self.messages, 'announceAdded', detail.file.name)); });
    this.uploader.on('file-rejected', function (detail) { self.rejections.push(detail.message); });
    this.uploader.on('state-change', function (detail) { self.onStateChange(detail.file, detail.previous); });
    this.uploader.on('upload-progress', function (detail) { self.renderProgress(detail.file); });
    this.uploader.on('progress', function (totals) { self.renderTotals(totals); });
    this.uploader.on('file-changed', function (detail) { self.announce(messageText(self.messages, 'announceChanged', detail.file.name)); });
    this.uploader.on('file-success', function () { self.updateFormValue(); });
    this.uploader.on('file-removed', function (detail) { self.removeRow(detail.file); self.updateFormValue(); });
    this.uploader.on('complete', function (detail) { self.onComplete(detail); });
    this.updateFormValue();
  }

  Widget.prototype.buildDom = function () {
    var messages = this.messages;
    var input = this.input;
    this.root = element('div', 'rsm');
    this.root.setAttribute('data-state', 'idle');

    this.dropZone = element('div', 'rsm-drop');
    this.browseButton = button('rsm-browse', this.multiple ? messages.chooseFiles : messages.chooseFile);
    var label = input.id && document.querySelector('label[for="' + cssEscape(input.id) + '"]');
    if (label) {
      if (!label.id) label.id = input.id + '-label';
      this.browseButton.id = input.id + '-browse';
      this.browseButton.setAttribute('aria-labelledby', label.id + ' ' + this.browseButton.id);
      // The label's click would open the native picker; send it to our button instead.
      label.htmlFor = this.browseButton.id;
    }
    this.dropZone.appendChild(this.browseButton);
    this.dropZone.appendChild(element('span', 'rsm-hint', ' ' + (this.multiple ? messages.dropHintMany : messages.dropHintOne)));
    this.root.appendChild(this.dropZone);

    if (this.options.currentName) {
      var current = element('p', 'rsm-current', messages.currentFile + ' ');
      var link = element(this.options.currentUrl ? 'a' : 'span', 'rsm-current-name', this.options.currentName);
      if (this.options.currentUrl) link.href = this.options.currentUrl;
      current.appendChild(link);
      var clearLabel = element('label', 'rsm-clear');
      this.clearBox = element('input');
      this.clearBox.type = 'checkbox';
      this.clearBox.name = this.options.clearName || (this.fieldName + '-clear');
      if (input.getAttribute('form')) this.clearBox.setAttribute('form', input.getAttribute('form'));
      clearLabel.appendChild(this.clearBox);
      clearLabel.appendChild(document.createTextNode(' ' + messages.clear));
      current.appendChild(document.createTextNode(' '));
      current.appendChild(clearLabel);
      this.root.appendChild(current);
    }

    this.notice = element('p', 'rsm-notice');
    this.notice.id = this.uploaderId() + '-notice';
    this.notice.hidden = true;
    this.browseButton.setAttribute('aria-describedby', this.notice.id);
    this.root.appendChild(this.notice);

    if (this.multiple) {
      this.summary = element('div', 'rsm-summary');
      this.summary.hidden = true;
      this.totalBar = progressBar(messages.totalProgressLabel);
      this.totalText = element('span', 'rsm-summary-text');
      var actions = element('div', 'rsm-actions');
      this.pauseAllButton = button('rsm-pause-all', messages.pauseAll);
      this.resumeAllButton = button('rsm-resume-all', messages.resumeAll);
      this.cancelAllButton = button('rsm-cancel-all', messages.cancelAll);
      var uploader = this.uploader;
      this.pauseAllButton.addEventListener('click', function () { uploader.pause(); });
      this.resumeAllButton.addEventListener('click', function () { uploader.resume(); });
      this.cancelAllButton.addEventListener('click', function () { uploader.cancel(); });
      actions.appendChild(this.pauseAllButton);
      actions.appendChild(this.resumeAllButton);
      actions.appendChild(this.cancelAllButton);
      this.summary.appendChild(this.totalBar.root);
      this.summary.appendChild(this.totalText);
      this.summary.appendChild(actions);
      this.root.appendChild(this.summary);
    }

    this.list = element('ul', 'rsm-files');
    this.root.appendChild(this.list);

    // Every state change a sighted user would notice is also spoken: one polite live region.
    this.liveRegion = element('div', 'rsm-live rsm-visually-hidden');
    this.liveRegion.setAttribute('role', 'status');
    this.liveRegion.setAttribute('aria-live', 'polite');
    this.root.appendChild(this.liveRegion);

    this.values = element('span', 'rsm-values');
    this.root.appendChild(this.values);

    var self = this;
    this.browseButton.addEventListener('click', function () { self.input.click(); });
    input.parentNode.insertBefore(this.root, input.nextSibling);
    this.root.insertBefore(input, this.root.firstChild);
  };

  Widget.prototype.uploaderId = function () {
    if (!this._id) this._id = 'rsm-' + (++fileSequence);
    return this._id;
  };

  function cssEscape(text) {
    return root.CSS && root.CSS.escape ? root.CSS.escape(text) : String(text).replace(/["\\]/g, '\\$&');
  }

  function progressBar(label) {
    var bar = element('div', 'rsm-bar');
    bar.setAttribute('role', 'progressbar');
    bar.setAttribute('aria-label', label);
    bar.setAttribute('aria-valuemin', '0');
    bar.setAttribute('aria-valuemax', '100');
    bar.setAttribute('aria-valuenow', '0');
    var fill = element('div', 'rsm-bar-fill');
    bar.appendChild(fill);
    return { root: bar, fill: fill, percent: -1, text: '' };
  }

  function setProgress(bar, done, total, messages) {
    var percent = total > 0 ? Math.floor(done * 100 / total) : (done > 0 ? 100 : 0);
    var text = messageText(messages, 'progressText', percent, done, total);
    if (bar.percent !== percent) {
      bar.percent = percent;
      bar.root.setAttribute('aria-valuenow', String(percent));
      bar.fill.style.width = percent + '%';
    }
    if (bar.text !== text) {
      bar.text = text;
      bar.root.setAttribute('aria-valuetext', text);
    }
  }

  Widget.prototype.addFiles = function (entries) {
    if (!entries.length) return;
    this.hideNotice();
    if (!this.multiple) {
      // A single-file field: a new choice replaces the old one (whose server data is deleted).
      entries = entries.slice(0, 1);
      if (this.uploader.restrictionFor(entries[0].file, entries[0].relativePath) === null) this.uploader.cancel();
    }
    this.rejections = [];
    this.uploader.addFiles(entries);
    // Every refused file is named, in one notice, rather than only the last one.
    if (this.rejections.length) this.showNotice(this.rejections.join(' '));
  };

  Widget.prototype.addRow = function (uploadFile) {
    var messages = this.messages;
    var uploader = this.uploader;
    var row = { item: element('li', 'rsm-file') };
    row.item.id = uploadFile.id;
    var head = element('div', 'rsm-file-head');
    head.appendChild(element('span', 'rsm-file-name', uploadFile.relativePath || uploadFile.name));
    head.appendChild(element('span', 'rsm-file-size', formatBytes(uploadFile.size)));
    row.item.appendChild(head);
    row.bar = progressBar(messageText(messages, 'progressLabel', uploadFile.name));
    row.item.appendChild(row.bar.root);
    var status = element('div', 'rsm-file-status');
    row.stateText = element('span', 'rsm-file-state');
    row.detail = element('span', 'rsm-file-detail');
    status.appendChild(row.stateText);
    status.appendChild(row.detail);
    row.item.appendChild(status);
    var actions = element('div', 'rsm-actions');
    row.pauseButton = button('rsm-pause');
    row.retryButton = button('rsm-retry', messages.retry);
    row.cancelButton = button('rsm-cancel');
    row.retryButton.setAttribute('aria-label', messageText(messages, 'actionLabel', messages.retry, uploadFile.name));
    row.pauseButton.addEventListener('click', function () {
      if (uploadFile.paused) uploader.resume(uploadFile); else uploader.pause(uploadFile);
    });
    row.retryButton.addEventListener('click', function () { uploader.retry(uploadFile); });
    row.cancelButton.addEventListener('click', function () { uploader.cancel(uploadFile); });
    actions.appendChild(row.pauseButton);
    actions.appendChild(row.retryButton);
    actions.appendChild(row.cancelButton);
    row.item.appendChild(actions);
    this.rows[uploadFile.id] = row;
    this.list.appendChild(row.item);
    this.renderRow(uploadFile);
    this.renderProgress(uploadFile);
    this.renderSummary();
  };

  Widget.prototype.removeRow = function (uploadFile) {
    var row = this.rows[uploadFile.id];
    if (!row) return;
    // Keyboard users who removed a file keep their place: focus moves to the file picker.
    var hadFocus = row.item.contains(document.activeElement);
    row.item.parentNode.removeChild(row.item);
    delete this.rows[uploadFile.id];
    if (hadFocus) this.browseButton.focus();
    this.announce(messageText(this.messages, 'announceRemoved', uploadFile.name));
    this.renderSummary();
    this.renderTotals(this.uploader.totals());
  };

  // Announces the changes a user acts on; 'hashing' → 'uploading' and the like would only be noise.
  var ANNOUNCED_STATES = { paused: true, retrying: true, verifying: true, done: true, failed: true };
  Widget.prototype.onStateChange = function (uploadFile, previous) {
    this.renderRow(uploadFile);
    this.renderProgress(uploadFile);
    this.renderSummary();
    var state = uploadFile.state;
    var resumed = state === 'uploading' && (previous === 'paused' || previous === 'retrying');
    if (!ANNOUNCED_STATES[state] && !resumed) return;
    this.announce(messageText(this.messages, 'announceState', uploadFile.name, this.messages.states[state],
      state === 'failed' && uploadFile.error ? uploadFile.error.message : ''));
  };

  Widget.prototype.renderRow = function (uploadFile) {
    var row = this.rows[uploadFile.id];
    if (!row) return;
    var messages = this.messages;
    var state = uploadFile.state;
    row.item.setAttribute('data-state', state);
    row.stateText.textContent = messages.states[state] || state;
    var pauseLabel = uploadFile.paused ? messages.resume : messages.pause;
    row.pauseButton.textContent = pauseLabel;
    row.pauseButton.setAttribute('aria-label', messageText(messages, 'actionLabel', pauseLabel, uploadFile.name));
    // A button that disappears under the keyboard focus would drop the user at the top of the page.
    var focusWasOnHidden = (uploadFile.isTerminal() && document.activeElement === row.pauseButton) ||
      (state !== 'failed' && document.activeElement === row.retryButton);
    row.pauseButton.hidden = uploadFile.isTerminal();
    row.retryButton.hidden = state !== 'failed';
    if (focusWasOnHidden) (state === 'failed' ? row.retryButton : row.cancelButton).focus();
    var cancelLabel = uploadFile.isTerminal() ? messages.remove : messages.cancel;
    row.cancelButton.textContent = cancelLabel;
    row.cancelButton.setAttribute('aria-label', messageText(messages, 'actionLabel', cancelLabel, uploadFile.name));
    row.detail.textContent = state === 'failed' && uploadFile.error ? uploadFile.error.message : '';
    this.root.setAttribute('data-state', this.uploader.isBusy() ? 'busy' : (this.uploader.files.length ? 'settled' : 'idle'));
  };

  Widget.prototype.renderProgress = function (uploadFile) {
    var row = this.rows[uploadFile.id];
    if (!row) return;
    setProgress(row.bar, uploadFile.uploadedBytes(), uploadFile.size, this.messages);
    if (uploadFile.state === 'uploading' && uploadFile.speed > 0) {
      row.detail.textContent = messageText(this.messages, 'speedAndTimeLeft', uploadFile.speed, uploadFile.timeLeft());
    } else if (uploadFile.state !== 'failed') {
      row.detail.textContent = '';
    }
  };

  Widget.prototype.renderSummary = function () {
    if (!this.summary) return;
    var files = this.uploader.files;
    this.summary.hidden = files.length === 0;
    this.pauseAllButton.hidden = !files.some(function (file) { return !file.paused && !file.isTerminal(); });
    this.resumeAllButton.hidden = !files.some(function (file) { return file.paused; });
    this.cancelAllButton.hidden = !this.uploader.isBusy();
  };

  Widget.prototype.renderTotals = function (totals) {
    if (!this.summary) return;
    setProgress(this.totalBar, totals.bytesUploaded, totals.bytesTotal, this.messages);
    this.totalText.textContent = totals.speed > 0 ? messageText(this.messages, 'speedAndTimeLeft', totals.speed, totals.timeLeft) : '';
  };

  // Each message is a new element in the live region: screen readers speak additions, so two
  // messages in one task (a file done, then all done) are both heard, and a repeated one is too.
  var LIVE_REGION_KEEPS = 3;
  Widget.prototype.announce = function (text) {
    var region = this.liveRegion;
    region.appendChild(element('div', null, text));
    while (region.childNodes.length > LIVE_REGION_KEEPS) region.removeChild(region.firstChild);
  };

  Widget.prototype.showNotice = function (text) {
    this.notice.textContent = text;
    this.notice.hidden = false;
    this.announce(text);
  };

  Widget.prototype.hideNotice = function () {
    this.notice.hidden = true;
    this.notice.textContent = '';
  };

  // The hidden inputs carry the tokens of finished uploads under the field's name: one input for a
  // single-file field (empty until done), one per finished file for a multiple one.
  Widget.prototype.updateFormValue = function () {
    var tokens = this.uploader.files.filter(function (file) { return file.phase === 'done'; })
      .map(function (file) { return file.result.token; });
    if (!this.multiple && tokens.length === 0) tokens = [''];
    this.values.textContent = '';
    if (!this.fieldName) return;
    var formId = this.input.getAttribute('form');
    for (var i = 0; i < tokens.length; i++) {
      var hidden = element('input');
      hidden.type = 'hidden';
      hidden.name = this.fieldName;
      hidden.value = tokens[i];
      if (formId) hidden.setAttribute('form', formId);
      this.values.appendChild(hidden);
    }
    if (this.clearBox) {
      // A new file replaces the current one; clearing it as well would contradict that.
      var replacing = tokens.length > 0 && tokens[0] !== '';
      if (replacing) this.clearBox.checked = false;
      this.clearBox.disabled = replacing;
    }
  };

  Widget.prototype.checkSubmit = function (event) {
    var files = this.uploader.files;
    var message = null;
    if (this.uploader.isBusy()) {
      if (this.options.submit === 'wait') {
        this.waitingToSubmit = true;
        this.submitter = event.submitter || null;
        this.form.setAttribute('aria-busy', 'true');
        message = this.messages.willSubmit;
      } else {
        message = this.messages.waitForUpload;
      }
    } else if (files.some(function (file) { return file.phase === 'failed'; })) {
      message = this.messages.uploadFailed;
    } else if (this.required && !files.some(function (file) { return file.phase === 'done'; }) &&
               !(this.options.currentName && !(this.clearBox && this.clearBox.checked))) {
      message = this.messages.required;
      this.browseButton.focus();
    }
    if (!message) return;
    // Stop the page's own submit handlers too (e.g. one that posts the form with fetch).
    event.preventDefault();
    event.stopImmediatePropagation();
    this.showNotice(message);
  };

  Widget.prototype.onComplete = function (detail) {
    this.renderSummary();
    this.announce(messageText(this.messages, 'announceComplete', detail.succeeded.length, detail.failed.length));
    if (!this.waitingToSubmit) return;
    this.waitingToSubmit = false;
    this.form.removeAttribute('aria-busy');
    if (detail.failed.length > 0) {
      this.showNotice(this.messages.uploadFailed);
      return;
    }
    this.hideNotice();
    var submitter = this.submitter && this.submitter.form === this.form ? this.submitter : null;
    if (typeof this.form.requestSubmit === 'function') this.form.requestSubmit(submitter); else this.form.submit();
  };

  Widget.prototype.destroy = function () {
    this.uploader.destroy();
    this.detachDrop();
    this.input.removeEventListener('change', this.onInputChange);
    if (this.form) this.form.removeEventListener('submit', this.onSubmit, true);
  };

  function ensureStylesheet(assetBase) {
    if (typeof document === 'undefined' || document.querySelector('link[data-resumable-widget]')) return;
    var link = element('link');
    link.rel = 'stylesheet';
    link.href = assetBase + 'resumable-widget.css';
    link.setAttribute('data-resumable-widget', '');
    document.head.appendChild(link);
  }

  function enhance(input, options) {
    var existing = widgets && widgets.get(input);
    if (existing) return existing;
    var widget = new Widget(input, options);
    if (widgets) widgets.set(input, widget);
    return widget;
  }

  var SELECTOR = 'input[type="file"][data-resumable]';
  function enhanceAll(container) {
    var scope = container || document;
    var inputs = Array.prototype.slice.call(scope.querySelectorAll(SELECTOR));
    if (scope.matches && scope.matches(SELECTOR)) inputs.unshift(scope);
    return inputs.map(function (input) { return enhance(input); });
  }

  // ---- resumable.js compatibility -----------------------------------------------------------------
  // The calls pages written for resumable.js 1.1 make, mapped onto the Uploader, so such a page
  // switches by changing its script tag. Events keep resumable.js's names and arguments.
  function Resumable(opts) {
    if (!(this instanceof Resumable)) return new Resumable(opts);
    var self = this;
    this.support = typeof File !== 'undefined' && typeof Blob !== 'undefined' && typeof Worker !== 'undefined' &&
      !!Blob.prototype.slice;
    this.opts = opts || {};
    this.defaults = { chunkSize: MiB, forceChunkSize: false, simultaneousUploads: 3, target: '/', query: {}, headers: {},
      maxChunkRetries: 100, chunkRetryInterval: undefined, withCredentials: false, xhrTimeout: 0, maxFiles: undefined,
      minFileSize: 1, maxFileSize: undefined, fileType: [], clearInput: true };
    this.files = [];
    this.events = [];
    var o = function (name) { return self.getOpt(name); };
    var queryOption = o('query');
    var headersOption = o('headers');
    var fileTypes = o('fileType') || [];
    this.uploader = new Uploader({
      endpoint: o('target'),
      chunkSize: o('chunkSize'),
      forceChunkSize: o('forceChunkSize'),
      simultaneousUploads: o('simultaneousUploads'),
      autoStart: false,
      withCredentials: o('withCredentials'),
      stallTimeout: o('xhrTimeout') || undefined,
      maxRetries: o('maxChunkRetries'),
      retryDelay: o('chunkRetryInterval') || undefined,
      assetBase: this.opts.assetBase,
      query: typeof queryOption === 'function' ? function (file) { return queryOption(self.wrap(file), null); } : queryOption,
      headers: typeof headersOption === 'function' ? function (file) { return headersOption(self.wrap(file)); } : headersOption
    });
    this.restrictions = { maxFiles: o('maxFiles'), minFileSize: o('minFileSize'), maxFileSize: o('maxFileSize'),
      fileType: fileTypes.map(function (type) { return '.' + type; }) };
    var uploader = this.uploader;
    uploader.on('file-rejected', function (detail) { self.lastSkipped.push(detail.file); });
    uploader.on('file-identified', function (detail) {
      var file = self.wrap(detail.file);
      file.uniqueIdentifier = detail.identifier;
      if (file.announced) return; // identified again after a retry
      file.announced = true;
      // resumable.js announces a file once its identifier exists; ours needs the first chunk's digest.
      self.fire('fileAdded', file, detail.file.addEvent);
      if (--self.pendingAdds === 0) self.fire('filesAdded', self.lastAdded, self.lastSkipped);
    });
    // As in resumable.js, a file's last fileProgress comes just before its fileSuccess, never after.
    uploader.on('upload-progress', function (detail) {
      if (!detail.file.isTerminal()) self.fire('fileProgress', self.wrap(detail.file));
    });
    uploader.on('file-retry', function (detail) { self.fire('fileRetry', self.wrap(detail.file)); });
    uploader.on('file-success', function (detail) {
      self.fire('fileProgress', self.wrap(detail.file));
      self.fire('fileSuccess', self.wrap(detail.file), JSON.stringify(detail.result));
    });
    uploader.on('file-error', function (detail) { self.fire('fileError', self.wrap(detail.file), detail.error.message); });
    uploader.on('file-removed', function (detail) {
      var index = self.files.indexOf(self.wrap(detail.file));
      if (index >= 0) self.files.splice(index, 1);
    });
    uploader.on('complete', function () { self.fire('complete'); });
    this.pendingAdds = 0;
    this.lastAdded = [];
    this.lastSkipped = [];
  }

  Resumable.prototype.getOpt = function (name) {
    return this.opts[name] !== undefined ? this.opts[name] : this.defaults[name];
  };

  Resumable.prototype.on = function (event, callback) { this.events.push(event.toLowerCase(), callback); };

  Resumable.prototype.fire = function (event) {
    var args = Array.prototype.slice.call(arguments, 1);
    var name = event.toLowerCase();
    for (var i = 0; i < this.events.length; i += 2) {
      if (this.events[i] === name) this.events[i + 1].apply(this, args);
      if (this.events[i] === 'catchall') this.events[i + 1].apply(null, [event].concat(args));
    }
    if (name === 'fileerror') this.fire('error', args[1], args[0]);
    if (name === 'fileprogress') this.fire('progress');
  };

  // The ResumableFile for an UploadFile, created once.
  Resumable.prototype.wrap = function (uploadFile) {
    if (!uploadFile.compatFile) uploadFile.compatFile = new ResumableFile(this, uploadFile);
    return uploadFile.compatFile;
  };

  Resumable.prototype.addFiles = function (fileList, event) {
    var self = this;
    var restrictions = this.restrictions;
    var entries = Array.prototype.map.call(fileList, function (item) { return item && item.file ? item : { file: item, relativePath: null }; });
    if (restrictions.maxFiles !== undefined && restrictions.maxFiles < entries.length + this.files.length) {
      if (restrictions.maxFiles === 1 && this.files.length === 1 && entries.length === 1) {
        this.removeFile(this.files[0]);
      } else {
        if (this.opts.maxFilesErrorCallback) this.opts.maxFilesErrorCallback(fileList, 0);
        return;
      }
    }
    var errorCount = 0;
    var accepted = entries.filter(function (entry) {
      var file = entry.file;
      var callback = null;
      if (!acceptsFile(restrictions.fileType, file)) callback = 'fileTypeErrorCallback';
      else if (restrictions.minFileSize !== undefined && file.size < restrictions.minFileSize) callback = 'minFileSizeErrorCallback';
      else if (restrictions.maxFileSize !== undefined && file.size > restrictions.maxFileSize) callback = 'maxFileSizeErrorCallback';
      if (callback && self.opts[callback]) self.opts[callback](file, errorCount++);
      return !callback;
    });
    this.lastSkipped = [];
    var added = this.uploader.addFiles(accepted);
    this.lastAdded = added.map(function (uploadFile) {
      uploadFile.addEvent = event;
      return self.wrap(uploadFile);
    });
    this.files = this.files.concat(this.lastAdded);
    this.pendingAdds += added.length;
    if (added.length === 0 && this.lastSkipped.length > 0) this.fire('filesAdded', [], this.lastSkipped);
  };

  Resumable.prototype.addFile = function (file, event) { this.addFiles([file], event); };

  Resumable.prototype.assignBrowse = function (domNodes, isDirectory) {
    var self = this;
    if (domNodes.length === undefined) domNodes = [domNodes];
    Array.prototype.forEach.call(domNodes, function (domNode) {
      var input;
      if (domNode.tagName === 'INPUT' && domNode.type === 'file') {
        input = domNode;
      } else {
        input = document.createElement('input');
        input.type = 'file';
        input.style.display = 'none';
        domNode.addEventListener('click', function () { input.click(); });
        domNode.appendChild(input);
      }
      var maxFiles = self.getOpt('maxFiles');
      if (maxFiles === undefined || maxFiles !== 1) input.setAttribute('multiple', 'multiple'); else input.removeAttribute('multiple');
      if (isDirectory) input.setAttribute('webkitdirectory', 'webkitdirectory'); else input.removeAttribute('webkitdirectory');
      input.addEventListener('change', function (event) {
        self.addFiles(Array.prototype.slice.call(event.target.files), event);
        if (self.getOpt('clearInput')) event.target.value = '';
      });
    });
  };

  Resumable.prototype.assignDrop = function (domNodes) {
    var self = this;
    if (domNodes.length === undefined) domNodes = [domNodes];
    this.dropDetachers = (this.dropDetachers || []).concat(Array.prototype.map.call(domNodes, function (domNode) {
      return { node: domNode, detach: attachDropTarget(domNode, function (files, event) { self.addFiles(files, event); }) };
    }));
  };

  Resumable.prototype.unAssignDrop = function (domNodes) {
    if (domNodes.length === undefined) domNodes = [domNodes];
    this.dropDetachers = (this.dropDetachers || []).filter(function (entry) {
      var match = Array.prototype.indexOf.call(domNodes, entry.node) >= 0;
      if (match) entry.detach();
      return !match;
    });
  };

  // Unlike resumable.js, calling it while uploading also starts files added since.
  Resumable.prototype.upload = function () {
    if (!this.isUploading()) this.fire('uploadStart');
    this.uploader.upload();
  };
  Resumable.prototype.pause = function () { this.uploader.pause(); this.fire('pause'); };
  Resumable.prototype.cancel = function () {
    this.fire('beforeCancel');
    for (var i = this.files.length - 1; i >= 0; i--) this.files[i].cancel();
    this.fire('cancel');
  };
  Resumable.prototype.progress = function () { return this.uploader.progress(); };
  Resumable.prototype.isUploading = function () {
    return this.uploader.files.some(function (file) { return file.inflightCount > 0; });
  };
  Resumable.prototype.removeFile = function (file) { file.cancel(); };
  Resumable.prototype.getFromUniqueIdentifier = function (identifier) {
    for (var i = 0; i < this.files.length; i++) if (this.files[i].uniqueIdentifier === identifier) return this.files[i];
    return false;
  };
  Resumable.prototype.getSize = function () {
    return this.files.reduce(function (sum, file) { return sum + file.size; }, 0);
  };
  Resumable.prototype.handleDropEvent = function (event) {
    var self = this;
    filesFromDrop(event.dataTransfer).then(function (files) { self.addFiles(files, event); });
  };
  Resumable.prototype.handleChangeEvent = function (event) {
    this.addFiles(Array.prototype.slice.call(event.target.files), event);
    event.target.value = '';
  };
  Resumable.prototype.updateQuery = function (query) { this.opts.query = query; this.uploader.options.query = query; };

  function ResumableFile(resumable, uploadFile) {
    this.resumableObj = resumable;
    this.uploadFile = uploadFile;
    this.file = uploadFile.file;
    this.fileName = uploadFile.name;
    this.size = uploadFile.size;
    this.relativePath = uploadFile.relativePath;
    this.uniqueIdentifier = uploadFile.identifier;
    this.container = '';
    this.chunks = [];
  }
  ResumableFile.prototype.progress = function () { return this.uploadFile.progress(); };
  ResumableFile.prototype.abort = function () { this.resumableObj.uploader.pause(this.uploadFile); };
  // A finished file may already be referenced by the application: only unfinished ones are
  // deleted on the server.
  ResumableFile.prototype.cancel = function () {
    var uploader = this.resumableObj.uploader;
    if (this.uploadFile.phase === 'done') uploader.forget(this.uploadFile); else uploader.cancel(this.uploadFile);
  };
  ResumableFile.prototype.retry = function () { this.resumableObj.uploader.retry(this.uploadFile); };
  ResumableFile.prototype.bootstrap = ResumableFile.prototype.retry;
  ResumableFile.prototype.isUploading = function () { return this.uploadFile.inflightCount > 0; };
  ResumableFile.prototype.isComplete = function () { return this.uploadFile.phase === 'done'; };
  ResumableFile.prototype.isPaused = function () { return this.uploadFile.paused; };
  ResumableFile.prototype.pause = function (pause) {
    var uploader = this.resumableObj.uploader;
    if (pause === undefined) pause = !this.uploadFile.paused;
    if (pause) uploader.pause(this.uploadFile); else uploader.resume(this.uploadFile);
  };

  // ---- Exports and auto-enhancement ------------------------------------------------------------------
  var api = {
    version: VERSION,
    Uploader: Uploader,
    UploadFile: UploadFile,
    Widget: Widget,
    Resumable: Resumable,
    enhance: enhance,
    enhanceAll: enhanceAll,
    hashFile: hashFile,
    formatBytes: formatBytes,
    parseSize: parseSize,
    defaultOptions: DEFAULT_OPTIONS,
    defaultMessages: DEFAULT_MESSAGES,
    // configure({assetBase, stylesheet, autoEnhance}) before the page has loaded; configure({headers})
    // at any time: headers (an object, or a function of the file) sent with every request.
    configure: function (settings) { assign(globalConfig, settings); }
  };
  root.ResumableWidget = api;
  if (!root.Resumable) root.Resumable = Resumable;

  if (typeof document === 'undefined') return;
  function autoEnhance() {
    if (globalConfig.autoEnhance === false) return;
    enhanceAll(document);
    // Forms that add file fields later (e.g. an admin's "add another" rows) get enhanced too.
    if (typeof MutationObserver === 'function') {
      new MutationObserver(function (records) {
        records.forEach(function (record) {
          Array.prototype.forEach.call(record.addedNodes, function (node) {
            if (node.nodeType === 1) enhanceAll(node);
          });
        });
      }).observe(document.documentElement, { childList: true, subtree: true });
    }
  }
  // Deferred by a microtask at least, so the module wrapper can configure the asset base first.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoEnhance);
  else Promise.resolve().then(autoEnhance);
})(typeof self !== 'undefined' ? self : this);
