// A corpus of hostile file names, relative paths and identifiers: traversal, absolute paths, NUL and
// control bytes, Unicode look-alikes and normalisation tricks, bidi overrides, Windows device names,
// HTML and script injection, format strings, very long names. Shared by hostile_names.test.mjs (the
// server) and names.browser.test.mjs (what the widget shows).
const long = (n, c = 'a') => c.repeat(n);

export const HOSTILE_NAMES = [
  // traversal and absolute paths
  '../../../../../../etc/passwd', '..\\..\\..\\windows\\system32\\config\\sam', '/etc/passwd', '/tmp/rsm-pwned',
  'C:\\Windows\\win.ini', '\\\\server\\share\\x', '..', '.', '...', '....//....//etc/passwd', '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%252f..%252fetc', '..%c0%af..%c0%afetc', './../../rsm-pwned', 'a/../../../rsm-pwned',
  'a/./b/../../c', '~/.ssh/authorized_keys', '~root', '$HOME/x', '${HOME}', '`id`', '$(id)', 'a;rm -rf /', 'a|id', 'a&&id',
  'file:///etc/passwd', 'http://127.0.0.1/x', '\\\\?\\C:\\x', '/dev/null', '/dev/zero', '/proc/self/environ',
  '../chunks/../files/x', 'chunks', 'files', 'manifest.json', 'final.json', 'chunks.log', 'data', 'hash-progress',
  '../manifest.json', '0123456789abcdef0123456789abcdef', '0123456789abcdef0123456789abcdef/data',
  // NUL, control and invalid bytes (the server must refuse these: invalid_parameter)
  'a\u0000b', 'evil.txt\u0000.png', '\u0000', 'line\nbreak', 'carriage\rreturn', 'tab\there', 'esc\u001b[31mred', 'bell\u0007',
  'del\u007f', 'vertical\u000btab', 'formfeed\u000c',
  // Unicode look-alikes, normalisation and invisible characters
  '\u2025/\u2025/etc/passwd', '\uff0e\uff0e\uff0fetc\uff0fpasswd', '\u2215etc\u2215passwd', '\u29f8etc\u29f8passwd', '\u002e\u002e\u2044x',
  'caf\u00e9.txt', 'cafe\u0301.txt', '\u212b.txt', '\u00c5.txt', 'A\u030a.txt', '\ufb01le.txt', '\u0430dmin.txt', 'p\u0430yp\u0430l.txt',
  'zero\u200bwidth', 'joiner\u200d\u200c', 'bom\ufeff.txt', 'soft\u00adhyphen', 'rtl\u202egnp.exe', 'ltr\u202dx', 'isolate\u2066x\u2069',
  '\u0130stanbul', 'stra\u00dfe', '\ud83d\udca9.txt', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67.bin', '\u{10ffff}', '\ufffd\ufffe', 'x\u0308\u0308\u0308\u0308\u0308\u0308',
  '\u3000ideographic space', '\u00a0nbsp', '\u2028line sep', '\u2029para sep',
  // Windows device names and trailing dots/spaces
  'CON', 'con.txt', 'PRN', 'AUX', 'NUL', 'NUL.tar.gz', 'COM1', 'COM9.log', 'LPT1', 'LPT9', 'CONIN$', 'CLOCK$', 'trailing.', 'trailing ',
  ' leading', 'a:b', 'a:Zone.Identifier', 'file::$DATA', 'a*?<>|"',
  // HTML, script and format strings (displayed names must stay text)
  '<script>window.__pwned=1</script>.txt', '<img src=x onerror="window.__pwned=2">.png', '"><svg onload=window.__pwned=3>',
  "'><iframe src=javascript:window.__pwned=4>", '&lt;b&gt;escaped&lt;/b&gt;', '<b>bold</b>', 'javascript:alert(1)', '{{7*7}}', '${7*7}',
  '%s%s%s%n%x', '%00', '%0a%0d', '\\u0000', 'a".txt', "a'.txt", 'a`.txt', '<!--', ']]>',
  // extensions: double, overlong, odd
  'photo.jpg.exe', 'archive.tar.gz', '.htaccess', '.env', '.', 'noext', 'x.' + long(17, 'e'), 'x.ABC', 'x.a-b', 'x.exe ', 'x.%00.png',
  // very long names (the 255-byte limit: at the limit accepted, above refused)
  long(255), long(256), long(4096), long(85, '\u00e9') /* 170 bytes */, long(128, '\u00e9') /* 256 bytes */, long(63, '\ud83d\ude00') /* 252 bytes */,
  long(127, '../') + 'x',
];

// Names that must be refused (control characters, NUL, lone surrogates, over 255 bytes); everything
// else must be accepted and round-trip unchanged (display only).
export function mustRefuse(name, maxBytes = 255) {
  if (/[\u0000-\u001f\u007f]/.test(name)) return true;
  if (Buffer.byteLength(name, 'utf8') > maxBytes) return true;
  if (name.length === 0) return true;
  return false;
}
