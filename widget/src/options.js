// The Uploader's options and their defaults, the page-wide settings (configure()), and the helpers
// that interpret option values: sizes ("512MiB"), accept patterns, where the assets are.
// Contract: globalConfig is the one mutable page-wide object (configure() assigns into it, requests
// read its headers each time); DEFAULT_OPTIONS is never changed by the widget itself.
import { absoluteUrl, endpointUrl } from './transport.js';

export const KiB = 1024;
export const MiB = 1048576;
// Read while the classic script runs: document.currentScript is null once it has finished, and in modules.
const currentScript = typeof document !== 'undefined' ? document.currentScript : null;
export const globalConfig = {
  // Where the Worker, the wasm core and the stylesheet live: next to this script when loaded by a
  // tag; the ES module sets it from import.meta.url; otherwise <endpoint>/widget/.
  assetBase: currentScript && currentScript.src ? new URL('./', currentScript.src).href : null,
  stylesheet: true,
  headers: {},
  // Hashing Workers for the page (hash-pool.js): null for one per core, at most 4.
  hashWorkers: null
};

export const DEFAULT_OPTIONS = {
  endpoint: null,
  chunkSize: 4 * MiB,
  forceChunkSize: false,
  simultaneousUploads: 3,
  autoStart: true,
  maxFileSize: Infinity,
  minFileSize: 0,
  maxFiles: Infinity,
  accept: [],
  headers: {},
  query: {},
  withCredentials: false,
  // A request whose body makes no progress for stallTimeout ms, or whose reply takes longer than
  // responseTimeout ms after the body was sent (the server verifies and syncs first), is abandoned
  // and retried.
  stallTimeout: 30000,
  responseTimeout: 120000,
  maxRetries: 20,
  // Retry delays start at retryDelay ms and double per failed attempt up to maxRetryDelay, with
  // jitter; a Retry-After from the server is waited out, up to maxRetryAfter ms.
  retryDelay: 500,
  maxRetryDelay: 30000,
  maxRetryAfter: 300000,
  progressInterval: 200,
  assetBase: null,
  messages: {}
};

// "512MiB", "10 MB", "1.5GiB" or plain bytes; decimal units are powers of 1000, binary of 1024.
export function parseSize(text) {
  if (text === undefined || text === null || text === '') return undefined;
  if (typeof text === 'number') return text;
  var match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(String(text));
  if (!match) throw new Error('Not a size: ' + text);
  var power = ' kmgt'.indexOf(match[2].toLowerCase() || ' ');
  return Math.round(Number(match[1]) * Math.pow(match[3] ? KiB : 1000, power));
}

export function assign(target) {
  for (var i = 1; i < arguments.length; i++) {
    var source = arguments[i];
    if (!source) continue;
    for (var key in source) if (Object.prototype.hasOwnProperty.call(source, key) && source[key] !== undefined) target[key] = source[key];
  }
  return target;
}

// Accept patterns as in the input's accept attribute: ".pdf", "image/*", "application/zip".
export function acceptsFile(patterns, file) {
  if (!patterns || patterns.length === 0) return true;
  var name = file.name.toLowerCase();
  var type = (file.type || '').toLowerCase();
  for (var i = 0; i < patterns.length; i++) {
    var pattern = patterns[i].trim().toLowerCase();
    if (!pattern) continue;
    if (pattern.charAt(0) === '.') {
      if (name.length > pattern.length && name.slice(-pattern.length) === pattern) return true;
    } else if (pattern.slice(-2) === '/*') {
      if (type.indexOf(pattern.slice(0, -1)) === 0) return true;
    } else if (type === pattern) {
      return true;
    }
  }
  return false;
}

export function parseAccept(text) {
  return text ? String(text).split(',').map(function (part) { return part.trim(); }).filter(Boolean) : [];
}

export function resolveAssetBase(explicitBase, endpoint) {
  var base = explicitBase || globalConfig.assetBase;
  if (!base && endpoint) base = endpointUrl(endpoint, '/widget/', null);
  if (!base) throw new Error('resumable widget: set assetBase (where resumable-hash-worker.js is served)');
  // Absolute, since the Worker may need it from a Blob, where relative URLs mean nothing.
  base = absoluteUrl(base);
  return /\/$/.test(base) ? base : base + '/';
}
