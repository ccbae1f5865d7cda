// resumable.js compatibility: `new Resumable(opts)` and ResumableFile, as pages written for
// resumable.js 1.1 use them, mapped onto the Uploader.
// Contract: resumable.js's method names, option names, event names and event arguments (see
// README.md for what is honoured, ignored and different); no state of its own beyond the mapping.
import { MiB, acceptsFile } from './options.js';
import { Uploader } from './uploader.js';
import { attachDropTarget, filesFromDrop } from './drop.js';

// The calls pages written for resumable.js 1.1 make, mapped onto the Uploader, so such a page
// switches by changing its script tag. Events keep resumable.js's names and arguments.
export function Resumable(opts) {
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
