// Type declarations for the resumable widget: the ES module (resumable-widget.mjs) and the global
// that the classic script defines (window.ResumableWidget, and window.Resumable for resumable.js pages).

export type UploadState =
  | 'queued' | 'hashing' | 'uploading' | 'paused' | 'retrying' | 'verifying' | 'done' | 'failed' | 'cancelled';

/** The server's final result (docs/protocol.md, "Final result"). */
export interface FinalResult {
  status: 'complete';
  /** Opaque; the application passes it to claim_upload(). */
  token: string;
  identifier: string;
  fileName: string;
  size: number;
  chunkCount: number;
  /** The stored file's tree digest (docs/digest.md), 64 hex digits (equals `resumable-digest FILE`). */
  fileDigest: string;
  digestAlgorithm: 'rsm-tree-v1';
}

export interface UploadError {
  /**
   * A code from the protocol's error table, or network_error, timeout, read_error, file_changed,
   * file_digest_mismatch, http_<status>; cross_origin_refused (an endpoint on another origin is up
   * but does not allow the page's origin, or not with credentials); worker_failed (the hashing Worker
   * or the wasm core did not load, e.g. refused by the page's Content-Security-Policy).
   */
  code: string;
  /** HTTP status, 0 when no reply arrived. */
  status: number;
  /** For people; the server's own message when it sent one. */
  message: string;
}

export type Messages = typeof defaultMessages;

export interface UploaderOptions {
  /** The upload endpoint's URL, e.g. '/upload', or on another origin 'https://upload.example.com/upload' (CORS). Required. */
  endpoint: string;
  /** Bytes per chunk (default 4 MiB). Must be a size the server accepts. */
  chunkSize?: number;
  /** Make every chunk ≤ chunkSize (the last one short) instead of letting the last one absorb the remainder. */
  forceChunkSize?: boolean;
  /** Chunk requests on the wire at once, across all files (default 3). */
  simultaneousUploads?: number;
  /** Start uploading as soon as files are added (default true); otherwise call upload(). */
  autoStart?: boolean;
  maxFileSize?: number;
  minFileSize?: number;
  maxFiles?: number;
  /** Accepted types as in the accept attribute: '.pdf', 'image/*', 'application/zip'. */
  accept?: string[] | string;
  /** Extra request headers (e.g. a CSRF token), or a function of the file. */
  headers?: Record<string, string> | ((file: UploadFile) => Record<string, string>);
  /** Extra query parameters on every request, or a function of the file. */
  query?: Record<string, string | number> | ((file: UploadFile) => Record<string, string | number>);
  /** Send cookies (and HTTP authentication) to an endpoint on another origin (default false); the endpoint must allow credentials. */
  withCredentials?: boolean;
  /** Milliseconds without upload progress before a request is abandoned and retried (default 30000). */
  stallTimeout?: number;
  /** Milliseconds to wait for a reply once the body is sent (default 120000). */
  responseTimeout?: number;
  /** Failed attempts per chunk before the file fails (default 20). */
  maxRetries?: number;
  /** First retry delay in ms; doubles per attempt, with jitter (default 500). */
  retryDelay?: number;
  /** Longest retry delay in ms (default 30000). */
  maxRetryDelay?: number;
  /** Longest wait in ms a server's Retry-After (seconds or an HTTP date) may impose (default 300000); shorter ones are waited out in full. */
  maxRetryAfter?: number;
  /** Milliseconds between progress events (default 200). */
  progressInterval?: number;
  /** URL of the folder holding resumable-hash-worker.js and resumable_core.{js,wasm}; it may be on another origin. */
  assetBase?: string;
  messages?: Partial<Messages>;
}

export interface WidgetOptions extends Partial<UploaderOptions> {
  /** 'block' (default): refuse to submit while uploading; 'wait': submit once the uploads finish. */
  submit?: 'block' | 'wait';
  /** Edit forms: the name of the file the field holds now, and an optional link to it. */
  currentName?: string;
  currentUrl?: string;
  /** Name of the "clear" checkbox (default '<field name>-clear'). */
  clearName?: string;
  /** Insert the widget's stylesheet (default true). */
  stylesheet?: boolean;
}

export declare class UploadFile {
  readonly id: string;
  readonly file: File;
  readonly name: string;
  readonly size: number;
  readonly type: string;
  readonly relativePath: string;
  /** Stable for the same file and settings across reloads; null until the first chunk is hashed. */
  readonly identifier: string | null;
  readonly chunkCount: number;
  /** The whole file's tree digest (docs/digest.md) once hashed. */
  readonly fileDigest: string | null;
  readonly state: UploadState;
  readonly paused: boolean;
  readonly result: FinalResult | null;
  readonly error: UploadError | null;
  /** Bytes per second over the last seconds. */
  readonly speed: number;
  uploadedBytes(): number;
  /** 0…1 */
  progress(): number;
  /** Seconds, Infinity when unknown. */
  timeLeft(): number;
  isTerminal(): boolean;
}

export interface Totals {
  bytesUploaded: number;
  bytesTotal: number;
  speed: number;
  timeLeft: number;
  files: number;
}

export interface UploaderEvents {
  'file-added': { file: UploadFile };
  'file-rejected': { file: File; relativePath: string | null; code: string; message: string };
  'file-removed': { file: UploadFile };
  'file-identified': { file: UploadFile; identifier: string };
  'hash-progress': { file: UploadFile; hashedBytes: number; bytesTotal: number };
  'file-hashed': { file: UploadFile; fileDigest: string };
  'state-change': { file: UploadFile; state: UploadState; previous: UploadState | null };
  'upload-progress': { file: UploadFile; bytesUploaded: number; bytesTotal: number; speed: number; timeLeft: number };
  'progress': Totals;
  'chunk-stored': { file: UploadFile; chunk: number; duplicate: boolean };
  'file-retry': { file: UploadFile; chunk: number | null; attempt: number; delay: number; error: UploadError | null };
  'file-paused': { file: UploadFile };
  'file-resumed': { file: UploadFile };
  'file-cancelled': { file: UploadFile };
  'file-changed': { file: UploadFile };
  'file-success': { file: UploadFile; result: FinalResult };
  'file-error': { file: UploadFile; error: UploadError };
  'complete': { succeeded: UploadFile[]; failed: UploadFile[] };
}

export declare class Uploader {
  constructor(options: UploaderOptions);
  readonly options: Required<UploaderOptions>;
  readonly files: UploadFile[];
  on<K extends keyof UploaderEvents>(type: K, listener: (detail: UploaderEvents[K]) => void): this;
  off<K extends keyof UploaderEvents>(type: K, listener: (detail: UploaderEvents[K]) => void): this;
  once<K extends keyof UploaderEvents>(type: K, listener: (detail: UploaderEvents[K]) => void): this;
  addFiles(files: FileList | ArrayLike<File | { file: File; relativePath?: string | null }>): UploadFile[];
  /** Starts files added with autoStart: false and resumes paused ones. */
  upload(): void;
  /** One file, or all without an argument. */
  pause(file?: UploadFile): void;
  resume(file?: UploadFile): void;
  /** Stops the file(s), deletes their data on the server, removes them from the list. */
  cancel(file?: UploadFile): void;
  /** Removes a file from the list without telling the server (for finished uploads handed on). */
  forget(file: UploadFile): void;
  /** Starts a failed file again. */
  retry(file: UploadFile): void;
  isBusy(): boolean;
  progress(): number;
  totals(): Totals;
  destroy(): void;
}

export declare class Widget {
  constructor(input: HTMLInputElement, options?: WidgetOptions);
  readonly input: HTMLInputElement;
  readonly uploader: Uploader;
  readonly root: HTMLElement;
  destroy(): void;
}

export interface HashResult {
  identifier: string;
  chunkCount: number;
  chunks: { number: number; offset: number; size: number; digest: string }[];
  fileDigest: string;
}

export declare function enhance(input: HTMLInputElement, options?: WidgetOptions): Widget;
export declare function enhanceAll(root?: ParentNode): Widget[];
export declare function hashFile(file: File, options?: {
  chunkSize?: number; forceChunkSize?: boolean; assetBase?: string; endpoint?: string;
  onProgress?: (hashedBytes: number, totalBytes: number) => void;
}): Promise<HashResult>;
/** Page-wide settings. `headers` (an object, or a function of the file) go with every request of every
 * uploader, read at each request, so they may be set before or after inputs are enhanced. */
export declare function configure(settings: {
  assetBase?: string;
  stylesheet?: boolean;
  autoEnhance?: boolean;
  headers?: Record<string, string> | ((file: UploadFile) => Record<string, string>);
  /** Hashing Workers for the page; null (the default) for one per core, at most 4. Applies to units
   * handed out from then on. */
  hashWorkers?: number | null;
}): void;
export declare function formatBytes(bytes: number): string;
export declare function parseSize(text: string | number): number | undefined;
export declare const defaultOptions: Required<UploaderOptions>;
export declare const defaultMessages: {
  [key: string]: string | ((...args: any[]) => string) | Record<string, string>;
  states: Record<UploadState, string>;
};
export declare const version: string;

// ---- resumable.js compatibility --------------------------------------------------------------------
export interface ResumableOptions {
  target?: string;
  chunkSize?: number;
  forceChunkSize?: boolean;
  simultaneousUploads?: number;
  query?: Record<string, string | number> | ((file: ResumableFile, chunk: null) => Record<string, string | number>);
  headers?: Record<string, string> | ((file: ResumableFile) => Record<string, string>);
  withCredentials?: boolean;
  xhrTimeout?: number;
  maxChunkRetries?: number;
  chunkRetryInterval?: number;
  maxFiles?: number;
  minFileSize?: number;
  maxFileSize?: number;
  /** File name extensions without the dot, as in resumable.js. */
  fileType?: string[];
  clearInput?: boolean;
  maxFilesErrorCallback?: (files: File[], errorCount: number) => void;
  minFileSizeErrorCallback?: (file: File, errorCount: number) => void;
  maxFileSizeErrorCallback?: (file: File, errorCount: number) => void;
  fileTypeErrorCallback?: (file: File, errorCount: number) => void;
  assetBase?: string;
  /** Accepted for compatibility and ignored: chunks always travel as raw bodies with digests. */
  [ignored: string]: unknown;
}

export declare class ResumableFile {
  readonly file: File;
  readonly fileName: string;
  readonly size: number;
  readonly relativePath: string;
  uniqueIdentifier: string;
  progress(): number;
  abort(): void;
  cancel(): void;
  retry(): void;
  bootstrap(): void;
  isUploading(): boolean;
  isComplete(): boolean;
  isPaused(): boolean;
  pause(pause?: boolean): void;
}

export declare class Resumable {
  constructor(options?: ResumableOptions);
  readonly support: boolean;
  readonly files: ResumableFile[];
  opts: ResumableOptions;
  getOpt(name: string): unknown;
  on(event: string, callback: (...args: any[]) => void): void;
  assignBrowse(nodes: Element | ArrayLike<Element>, isDirectory?: boolean): void;
  assignDrop(nodes: Element | ArrayLike<Element>): void;
  unAssignDrop(nodes: Element | ArrayLike<Element>): void;
  upload(): void;
  pause(): void;
  cancel(): void;
  progress(): number;
  isUploading(): boolean;
  addFile(file: File, event?: Event): void;
  addFiles(files: ArrayLike<File>, event?: Event): void;
  removeFile(file: ResumableFile): void;
  getFromUniqueIdentifier(identifier: string): ResumableFile | false;
  getSize(): number;
  handleDropEvent(event: DragEvent): void;
  handleChangeEvent(event: Event): void;
  updateQuery(query: ResumableOptions['query']): void;
}

declare const ResumableWidget: {
  version: string;
  Uploader: typeof Uploader;
  UploadFile: typeof UploadFile;
  Widget: typeof Widget;
  Resumable: typeof Resumable;
  enhance: typeof enhance;
  enhanceAll: typeof enhanceAll;
  hashFile: typeof hashFile;
  configure: typeof configure;
  formatBytes: typeof formatBytes;
  parseSize: typeof parseSize;
  defaultOptions: typeof defaultOptions;
  defaultMessages: typeof defaultMessages;
};
export default ResumableWidget;

declare global {
  interface Window {
    ResumableWidget: typeof ResumableWidget;
    Resumable: typeof Resumable;
  }
}
