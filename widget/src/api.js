// The widget's public API as one object, and its installation on a page: the globals
// (window.ResumableWidget, and window.Resumable unless resumable.js is there) and the automatic
// enhancement of <input type="file" data-resumable> elements, present and added later.
// Contract: install() is idempotent across copies of the widget: the first copy on a page owns it,
// and every later install() returns that copy's API unchanged. Enhancement starts a microtask after
// install() at the earliest, so whoever installs can still configure() the asset base.
import { assign, globalConfig, parseSize, DEFAULT_OPTIONS } from './options.js';
import { DEFAULT_MESSAGES, formatBytes } from './messages.js';
import { hashFile } from './hash-pool.js';
import { UploadFile } from './upload-file.js';
import { Uploader } from './uploader.js';
import { Widget, enhance, enhanceAll } from './widget.js';
import { Resumable } from './resumable-compat.js';

export const VERSION = '0.1.0';

export const api = {
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

export function install() {
  const root = globalThis;
  // Loaded twice (a classic tag and the ES module, say): the first copy owns the page.
  if (root.ResumableWidget) return root.ResumableWidget;
  root.ResumableWidget = api;
  if (!root.Resumable) root.Resumable = Resumable;
  if (typeof document !== 'undefined') scheduleAutoEnhance();
  return api;
}

function scheduleAutoEnhance() {
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
  // Deferred by a microtask at least, so the ES module can configure the asset base first.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoEnhance);
  else Promise.resolve().then(autoEnhance);
}
