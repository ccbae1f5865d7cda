// Joins the widget's source modules (widget/src/) into the two files pages load:
//   resumable-widget.js   the classic script (entry-classic.js), one function scope, strict
//   resumable-widget.mjs  the ES module (entry-module.js), with the same exports as before
// Usage: node widget/build.mjs OUTPUT_DIR   (widget/CMakeLists.txt runs it; esbuild comes from npm ci)
// Not minified: the served files stay readable, and JS + wasm stay well inside the 60 KiB budget.
import { build } from 'esbuild';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const outputDir = process.argv[2] && resolve(process.argv[2]);
if (!outputDir) {
  console.error('usage: node widget/build.mjs OUTPUT_DIR');
  process.exit(2);
}
const repository = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(repository, 'widget', 'src');
const banner = '/*! resumable widget: verified, resumable uploads for the resumable server library. MIT licence.\n' +
  ' * Built by esbuild from the modules in widget/src/, whose comments explain the code. */';

const common = {
  bundle: true,
  // Paths in the output's "// widget/src/x.js" markers are relative to this, wherever the build runs.
  absWorkingDir: repository,
  // The syntax the sources may use (import.meta in the module is ES2020); newer syntax would be lowered.
  target: 'es2020',
  charset: 'utf8',
  logLevel: 'warning',
};

// The classic script is the ES module output of an entry without exports, wrapped in a strict
// function by hand: esbuild's own iife format puts "use strict" before its wrapper
// (evanw/esbuild#4505), where it would also apply to whatever a page's asset pipeline
// concatenates after this script.
const classic = await build({
  ...common,
  entryPoints: [join(sources, 'entry-classic.js')],
  outfile: join(outputDir, 'resumable-widget.js'),
  format: 'esm',
  banner: { js: banner + '\n(function () {\n\'use strict\';' },
  footer: { js: '})();' },
});

const module = await build({
  ...common,
  entryPoints: [join(sources, 'entry-module.js')],
  outfile: join(outputDir, 'resumable-widget.mjs'),
  format: 'esm',
  banner: { js: banner },
});

// esbuild prints its warnings; in these sources each one is a mistake (an import of a name that is
// not exported, say), so it fails the build rather than scrolling by.
if (classic.warnings.length + module.warnings.length > 0) process.exit(1);
