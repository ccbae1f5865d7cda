// The Uploader: files in, verified uploads out. It schedules chunk requests across files (at most
// simultaneousUploads at once), resumes from the server's status, retries with backoff, checks the
// final result against its own digest, and reports everything as events (see README.md).
// Contract: the public methods and events are those of resumable-widget.d.ts; every state change of
// an UploadFile goes through here. What goes over the wire, and what replies mean, is the
// protocol's business (protocol.js): the Uploader asks it for a file's status, sends chunks and
// deletes uploads through it, and acts on the outcomes it reports.
import { Emitter } from './emitter.js';
import { assign, acceptsFile, parseAccept, resolveAssetBase, DEFAULT_OPTIONS } from './options.js';
import { DEFAULT_MESSAGES, messageText } from './messages.js';
import { hashPool } from './hash-pool.js';
import { ResumableProtocol } from './protocol.js';
import { UploadFile } from './upload-file.js';

// Exponential backoff with "equal jitter": the wait doubles per attempt up to maxDelay, and a
// random half of it keeps many clients that failed together from retrying together.
// The server may ask for a longer wait (serverAskedMs, from Retry-After; NaN when it did not):
// then the next attempt waits that long, up to options.maxRetryAfter (a server asking for hours
// is more likely misconfigured than right, and the user can still retry at once).
function retryDelay(attempt, options, serverAskedMs) {
  var ceiling = Math.min(options.maxRetryDelay, options.retryDelay * Math.pow(2, Math.max(0, attempt - 1)));
  var delay = ceiling / 2 + Math.random() * ceiling / 2;
  if (serverAskedMs > delay) delay = Math.max(delay, Math.min(serverAskedMs, options.maxRetryAfter));
  return Math.ceil(delay);
}

export function Uploader(options) {
  Emitter.call(this);
  this.options = assign({}, DEFAULT_OPTIONS, options);
  this.options.accept = typeof this.options.accept === 'string' ? parseAccept(this.options.accept) : this.options.accept;
  this.messages = assign({}, DEFAULT_MESSAGES, this.options.messages);
  if (!this.options.endpoint) throw new Error('resumable widget: the endpoint option is required');
  if (!(this.options.chunkSize >= 1)) throw new Error('resumable widget: chunkSize must be at least 1 byte');
  this.assetBase = resolveAssetBase(this.options.assetBase, this.options.endpoint);
  // Reads this.options at every request, so later changes to them (updateQuery) apply.
  this.protocol = new ResumableProtocol(this.options, this.messages);
  this.files = [];
  this.activeRequests = 0;
  this.progressTimer = null;
  this.settledSinceComplete = false;
  var self = this;
  // Back online: retry now instead of waiting out the backoff.
  this._onOnline = function () { self.retryWaitingNow(); };
  if (globalThis.addEventListener) globalThis.addEventListener('online', this._onOnline);
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
      else if (message.unavailable) self.fail(uploadFile, { code: 'worker_failed', status: 0, message: messageText(self.messages, 'workerFailed', message.message), retryable: false });
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
  uploadFile.statusRequest = this.protocol.requestStatus(uploadFile, function (outcome) {
    uploadFile.statusRequest = null;
    self.onStatus(uploadFile, outcome);
  });
};

Uploader.prototype.onStatus = function (uploadFile, outcome) {
  if (outcome.kind === 'complete') {
    uploadFile.statusKnown = true;
    this.handleFinalResult(uploadFile, outcome.result);
    return;
  }
  if (outcome.kind === 'differs') {
    this.restartChangedFile(uploadFile);
    return;
  }
  if (outcome.kind === 'partial') {
    this.markKnownStatus(uploadFile, outcome.held, outcome.heldCount, outcome.fileDigest);
    return;
  }
  if (outcome.kind === 'absent') {
    this.markKnownStatus(uploadFile, null, 0, null);
    return;
  }
  var failure = outcome.failure;
  if (failure.retryable && uploadFile.statusAttempts < this.options.maxRetries) {
    var self = this;
    uploadFile.statusAttempts++;
    var delay = retryDelay(uploadFile.statusAttempts, this.options, outcome.retryAfterMs);
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
  uploadFile.statusRequest = this.protocol.deleteUpload(uploadFile, function () {
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
  uploadFile.unsentCount--;
  uploadFile.inflightCount++;
  this.activeRequests++;
  chunk.loaded = 0;
  uploadFile.inflight[chunk.number] = this.protocol.sendChunk(uploadFile, chunk,
    function (outcome) {
      self.releaseChunkRequest(uploadFile, chunk);
      self.onChunkOutcome(uploadFile, chunk, outcome);
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

Uploader.prototype.onChunkOutcome = function (uploadFile, chunk, outcome) {
  if (outcome.kind === 'complete') {
    this.handleFinalResult(uploadFile, outcome.result);
    this.pump();
    return;
  }
  if (outcome.kind === 'stored') {
    chunk.attempts = 0;
    this.markStored(uploadFile, chunk);
    this.emit('chunk-stored', { file: uploadFile, chunk: chunk.number, duplicate: outcome.duplicate });
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
  var failure = outcome.failure;
  if (failure.retryable && chunk.attempts < this.options.maxRetries) {
    chunk.attempts++;
    this.retryChunkLater(uploadFile, chunk, failure, outcome.retryAfterMs);
  } else {
    this.fail(uploadFile, failure);
  }
  this.pump();
};

Uploader.prototype.retryChunkLater = function (uploadFile, chunk, failure, retryAfterMs) {
  var self = this;
  var delay = retryDelay(chunk.attempts, this.options, retryAfterMs);
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
  if (!this.protocol.resultMatches(result, uploadFile)) {
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
  this.protocol.deleteUpload(uploadFile, function (outcome) {
    if (outcome.kind === 'failed' && outcome.failure.retryable && attemptsLeft > 1) {
      setTimeout(function () { self.deleteOnServer(uploadFile, attemptsLeft - 1); },
        retryDelay(4 - attemptsLeft, self.options, outcome.retryAfterMs));
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
  if (globalThis.removeEventListener) globalThis.removeEventListener('online', this._onOnline);
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
