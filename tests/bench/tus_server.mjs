// The tus peer: @tus/server with @tus/file-store (npm, pinned in package.json), as its README sets it
// up, in its own process so that its peak RSS can be read. CORS is open (any origin), so the browser
// benchmark's page on another port can use it.
//   node tus_server.mjs --dir DIR [--port 0]
// Prints "listening on http://127.0.0.1:PORT/" when ready; SIGTERM stops it.
import http from 'node:http';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const directory = option('--dir');
if (!directory) {
  console.error('usage: tus_server.mjs --dir DIR [--port N]');
  process.exit(2);
}
const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(Number(option('--port', '0')), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
