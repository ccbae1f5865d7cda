// The form widget: enhances an <input type="file" data-resumable> into a picker, drop zone and file
// list with progress bars and Pause/Retry/Cancel buttons, and puts the finished uploads' tokens
// into the form under the input's name (see README.md for the attributes).
// Contract: keyboard-operable with ARIA progress bars and one polite live region; every text comes
// from the messages or the server and goes into the page as text (textContent, attributes), never as
// markup. Uploader events are re-dispatched on the input (bubbling CustomEvents).
import { assign, globalConfig, parseSize, parseAccept } from './options.js';
import { messageText, formatBytes } from './messages.js';
import { Uploader } from './uploader.js';
import { nextSequenceNumber } from './upload-file.js';
import { attachDropTarget } from './drop.js';

const widgets = typeof WeakMap === 'function' ? new WeakMap() : null;
const WIDGET_EVENTS = ['file-added', 'file-rejected', 'file-removed', 'file-identified', 'hash-progress', 'file-hashed',
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
  // Cookies to an endpoint on another origin: data-resumable-with-credentials (or ="true").
  if (data.resumableWithCredentials !== undefined) options.withCredentials = data.resumableWithCredentials !== 'false';
  if (data.resumableSubmit) options.submit = data.resumableSubmit;
  if (data.resumableCurrentName) options.currentName = data.resumableCurrentName;
  if (data.resumableCurrentUrl) options.currentUrl = data.resumableCurrentUrl;
  if (data.resumableClearName) options.clearName = data.resumableClearName;
  if (input.accept) options.accept = parseAccept(input.accept);
  return options;
}

// Enhances one <input type="file"> inside (or owned by) a form: see the README for the attributes.
export function Widget(input, options) {
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
  if (!this._id) this._id = 'rsm-' + nextSequenceNumber();
  return this._id;
};

function cssEscape(text) {
  return globalThis.CSS && globalThis.CSS.escape ? globalThis.CSS.escape(text) : String(text).replace(/["\\]/g, '\\$&');
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
const ANNOUNCED_STATES = { paused: true, retrying: true, verifying: true, done: true, failed: true };
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
const LIVE_REGION_KEEPS = 3;
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

export function enhance(input, options) {
  var existing = widgets && widgets.get(input);
  if (existing) return existing;
  var widget = new Widget(input, options);
  if (widgets) widgets.set(input, widget);
  return widget;
}

const SELECTOR = 'input[type="file"][data-resumable]';
export function enhanceAll(container) {
  var scope = container || document;
  var inputs = Array.prototype.slice.call(scope.querySelectorAll(SELECTOR));
  if (scope.matches && scope.matches(SELECTOR)) inputs.unshift(scope);
  return inputs.map(function (input) { return enhance(input); });
}
