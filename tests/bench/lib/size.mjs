// (6) What a page downloads: the widget as our server serves it (/upload/widget/) vs resumable.js and
// Uppy's bundle from node_modules; raw bytes and gzip -9 (zlib level 9).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function served(server, file) {
  const response = await fetch(new URL(`upload/widget/${file}`, server.url));
  if (response.status !== 200) throw new Error(`/upload/widget/${file}: ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

// Returns rows {name, files, raw, gzip}: the script payload only (stylesheets listed separately).
export async function widgetSizes(server, root) {
  const rows = [];
  const add = (name, parts) => rows.push({
    name, files: parts.map((p) => p.file).join(' + '),
    raw: parts.reduce((s, p) => s + p.bytes.length, 0), gzip: parts.reduce((s, p) => s + gz(p.bytes), 0),
  });
  const widget = [];
  for (const file of ['resumable-widget.js', 'resumable-hash-worker.js', 'resumable_core.js', 'resumable_core.wasm']) {
    widget.push({ file, bytes: await served(server, file) });
  }
  add('our widget (JS + Worker + wasm core)', widget);
  add('our widget stylesheet', [{ file: 'resumable-widget.css', bytes: await served(server, 'resumable-widget.css') }]);
  const npm = (name, rel) => ({ file: `${name}/${rel}`, bytes: readFileSync(join(root, 'node_modules', name, rel)) });
  add('resumable.js 1.1.0 (unminified, as shipped)', [npm('resumablejs', 'resumable.js')]);
  add('Uppy 6 bundle (uppy.min.js)', [npm('uppy', 'dist/uppy.min.js')]);
  add('Uppy 6 bundle stylesheet (uppy.min.css)', [npm('uppy', 'dist/uppy.min.css')]);
  add('tus-js-client 4 (tus.min.js)', [npm('tus-js-client', 'dist/tus.min.js')]);
  return rows;
}
