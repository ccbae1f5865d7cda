// ES module entry: `import { Uploader, enhance } from '/upload/widget/resumable-widget.mjs'`.
// The classic script does the work (it is written to run as a module too); this wrapper points the
// widget at the files beside it and re-exports the API.
import './resumable-widget.js';

const ResumableWidget = globalThis.ResumableWidget;
ResumableWidget.configure({ assetBase: new URL('./', import.meta.url).href });

export const { Uploader, UploadFile, Widget, Resumable, enhance, enhanceAll, hashFile, configure, formatBytes, parseSize,
  defaultOptions, defaultMessages, version } = ResumableWidget;
export default ResumableWidget;
