// Every string users see, and the formatting of sizes and durations inside them.
// Contract: DEFAULT_MESSAGES holds strings, functions returning strings, and the state names
// (`states`); never markup, since the widget puts them into the page as text.
// messageText(messages, key, ...args) resolves a string or a function alike.

// Every string users see, in one place; pass `messages` to replace any of them.
export const DEFAULT_MESSAGES = {
  chooseFiles: 'Choose files…',
  chooseFile: 'Choose a file…',
  dropHintMany: 'or drop files or folders here',
  dropHintOne: 'or drop a file here',
  pause: 'Pause',
  resume: 'Resume',
  cancel: 'Cancel',
  remove: 'Remove',
  retry: 'Retry',
  pauseAll: 'Pause all',
  resumeAll: 'Resume all',
  cancelAll: 'Cancel all',
  currentFile: 'Current file:',
  clear: 'Clear',
  totalProgressLabel: 'All uploads',
  states: { queued: 'Waiting', hashing: 'Preparing', uploading: 'Uploading', paused: 'Paused',
    retrying: 'Retrying', verifying: 'Verifying', done: 'Done', failed: 'Failed', cancelled: 'Cancelled' },
  actionLabel: function (action, name) { return action + ' ' + name; },
  progressLabel: function (name) { return 'Upload of ' + name; },
  progressText: function (percent, done, total) {
    return percent + '% (' + formatBytes(done) + ' of ' + formatBytes(total) + ')';
  },
  speedAndTimeLeft: function (bytesPerSecond, secondsLeft) {
    return formatBytes(bytesPerSecond) + '/s, ' + formatDuration(secondsLeft) + ' left';
  },
  tooLarge: function (name, limit) { return name + ' is too large: files may be at most ' + formatBytes(limit) + '.'; },
  tooSmall: function (name, limit) { return name + ' is too small: files must be at least ' + formatBytes(limit) + '.'; },
  typeNotAllowed: function (name, accepted) { return name + ' is not an accepted type (' + accepted.join(', ') + ').'; },
  tooManyFiles: function (name, limit) {
    return name + ' was not added: at most ' + limit + (limit === 1 ? ' file' : ' files') + ' can be uploaded.';
  },
  duplicate: function (name) { return name + ' is already in the list.'; },
  networkError: 'The connection to the server failed.',
  timeout: 'The server did not answer in time.',
  crossOriginRefused: function (origin) {
    return 'The upload server ' + origin + ' does not accept uploads from this page (it does not allow this site\'s origin).';
  },
  unexpectedReply: 'The server sent a reply the uploader does not understand.',
  httpStatus: function (status) { return 'The server answered with HTTP status ' + status + '.'; },
  readError: function (detail) { return 'The file could not be read (' + detail + ').'; },
  workerFailed: function (detail) { return 'The uploader could not start on this page (' + detail + ').'; },
  serverCopyDiffers: 'The server holds a different file under this upload; remove it and add the file again.',
  announceAdded: function (name) { return name + ' added.'; },
  announceState: function (name, stateText, detail) { return name + ': ' + stateText + (detail ? '. ' + detail : '.'); },
  announceChanged: function (name) { return name + ' changed since it was partly uploaded: uploading it again from the start.'; },
  announceRemoved: function (name) { return name + ' removed.'; },
  announceComplete: function (succeeded, failed) {
    return failed > 0 ? succeeded + ' uploaded, ' + failed + ' failed.' : 'All uploads finished.';
  },
  waitForUpload: 'The form can be sent when the upload has finished.',
  willSubmit: 'The form will be sent as soon as the upload has finished.',
  uploadFailed: 'An upload failed: retry or remove it before sending the form.',
  required: 'Choose a file to upload.'
};

export function messageText(messages, key) {
  var value = messages[key];
  return typeof value === 'function' ? value.apply(null, Array.prototype.slice.call(arguments, 2)) : value;
}

// Binary units, like b2sum-checking users, `ls -lh` and the demo's list expect for file sizes.
export function formatBytes(bytes) {
  if (!(bytes >= 0) || !isFinite(bytes)) return '–';
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  var unit = 0;
  while (bytes >= 1024 && unit < units.length - 1) { bytes /= 1024; unit++; }
  return (unit === 0 || bytes >= 100 ? Math.round(bytes) : bytes.toFixed(1)) + ' ' + units[unit];
}

export function formatDuration(seconds) {
  if (!(seconds >= 0) || !isFinite(seconds)) return '–';
  seconds = Math.ceil(seconds);
  if (seconds < 60) return seconds + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
  return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
}
