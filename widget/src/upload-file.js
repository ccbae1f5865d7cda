// One file's upload state: what the Uploader knows about it (chunks, what the server holds, what is
// on the wire, progress and speed).
// Contract: pages read an UploadFile's fields and call its query methods; only the Uploader changes
// it. nextSequenceNumber() hands out the page-wide numbers in element ids (files and widgets share
// one sequence so ids never collide).

const TERMINAL_PHASES = { done: true, failed: true, cancelled: true };

let fileSequence = 0;
export function nextSequenceNumber() { return ++fileSequence; }

// What the Uploader knows about one file. Read its fields; change it only through the Uploader.
export function UploadFile(uploader, file, relativePath) {
  this.uploader = uploader;
  this.id = 'rsm-file-' + nextSequenceNumber();
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
