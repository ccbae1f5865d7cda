// Entry of the ES module resumable-widget.mjs:
// `import { Uploader, enhance } from '/upload/widget/resumable-widget.mjs'`.
// It installs the widget like the classic script does (or finds the copy a classic script installed
// first: then that copy is the one exported, so the module and the globals are always the same
// objects) and points it at the files beside the module.
import { install } from './api.js';

const ResumableWidget = install();
ResumableWidget.configure({ assetBase: new URL('./', import.meta.url).href });

export const { Uploader, UploadFile, Widget, Resumable, enhance, enhanceAll, hashFile, configure, formatBytes, parseSize,
  defaultOptions, defaultMessages, version } = ResumableWidget;
export default ResumableWidget;
