// Uppy from npm (@uppy/core, @uppy/dashboard, @uppy/tus; unmodified) on a test page: the Dashboard
// inline, its files sent with tus to the test server's /files. tests/browser/uppy_tus.test.mjs
// bundles this file with esbuild (for the test page only) and drives the Dashboard in Chromium;
// the page reports Uppy's events in window.uppyEvents.
import Uppy from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import Tus from '@uppy/tus';
import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';

const events = { progress: 0, successes: [], errors: [], complete: null };
window.uppyEvents = events;

const uppy = new Uppy({ autoProceed: false });
uppy.use(Dashboard, { inline: true, target: '#dashboard', proudlyDisplayPoweredByUppy: false });
uppy.use(Tus, {
  endpoint: '/files',
  headers: { 'X-Test-User': 'alice' },
  chunkSize: 4 * 1048576,
  retryDelays: [0, 500, 1000],
});
uppy.on('progress', (progress) => { events.progress = progress; });
uppy.on('upload-success', (file, response) => {
  events.successes.push({ name: file.name, size: file.size, url: response.uploadURL });
});
uppy.on('upload-error', (file, error) => { events.errors.push(`${file?.name}: ${error}`); });
uppy.on('complete', (result) => {
  events.complete = { successful: result.successful.length, failed: result.failed.length };
});
