// The wasm BLAKE2b investigation in node (V8, like Chromium), timed in CPU seconds of this process
// rather than wall time, so that other load on a shared machine disturbs it far less than the in-page
// figures. Each variant is paired with hash-wasm over the same bytes, alternating; the figure is the
// median of the pairs' ratios.
//   node tests/bench/wasm_hash_node.mjs VARIANTS_DIR [MiB] [pairs] [variant...]
// VARIANTS_DIR holds <variant>/resumable_core.{js,wasm} (tests/bench/wasm_variants.sh).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { createBLAKE2b } from 'hash-wasm';
import { median } from './lib/common.mjs';

const [dir, mibArg = '64', pairsArg = '15', ...names] = process.argv.slice(2);
if (!dir) {
  console.error('usage: wasm_hash_node.mjs VARIANTS_DIR [MiB] [pairs] [variant...]');
  process.exit(2);
}
const variants = names.length ? names : ['project', 'libsodium-ref', 'simd128', 'O2', 'lto'];
const bytes = Number(mibArg) * 1048576;
const pairs = Number(pairsArg);
const SLICE = 16 * 1048576;
const data = randomFillSync(new Uint8Array(bytes));

// Loads an Emscripten 3.1.6 MODULARIZE build (web,worker environment) into node with its wasm bytes given.
async function loadCore(variantDir) {
  const source = readFileSync(join(variantDir, 'resumable_core.js'), 'utf8');
  // In this realm (a separate vm context would give the module its own globals, and V8 treats
  // cross-realm typed arrays less well): evaluate the script as a function body.
  const factory = new Function(`${source}\nreturn createResumableCore;`)();
  return factory({ wasmBinary: readFileSync(join(variantDir, 'resumable_core.wasm')) });
}

const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function runCore(core) {
  const h = core.createHasher();
  const t0 = cpu();
  for (let pos = 0; pos < bytes; pos += SLICE) core.updateHashers([h], data.subarray(pos, pos + SLICE));
  const digest = core.toHex(h.digest());
  const seconds = cpu() - t0;
  h.dispose();
  return { seconds, digest };
}

async function runHashWasm() {
  const h = await createBLAKE2b(256);
  const t0 = cpu();
  h.init();
  for (let pos = 0; pos < bytes; pos += SLICE) h.update(data.subarray(pos, pos + SLICE));
  const digest = h.digest('hex');
  return { seconds: cpu() - t0, digest };
}

const rate = (s) => bytes / 1048576 / s;
const results = {};
for (const name of variants) {
  const core = await loadCore(join(dir, name));
  runCore(core);
  await runHashWasm();
  const ratios = [];
  const coreRates = [];
  const hwRates = [];
  for (let i = 0; i < pairs; ++i) {
    const a = i % 2 ? await runHashWasm() : runCore(core);
    const b = i % 2 ? runCore(core) : await runHashWasm();
    const [c, w] = i % 2 ? [b, a] : [a, b];
    if (c.digest !== w.digest) throw new Error(`${name}: digests differ`);
    ratios.push(w.seconds / c.seconds);
    coreRates.push(rate(c.seconds));
    hwRates.push(rate(w.seconds));
  }
  results[name] = { core: median(coreRates), hashWasm: median(hwRates), ratio: median(ratios) };
  console.log(`${name}: core ${median(coreRates).toFixed(0)} MiB/s, hash-wasm ${median(hwRates).toFixed(0)} MiB/s, core/hash-wasm ${median(ratios).toFixed(3)} (CPU time, ${pairs} pairs of ${mibArg} MiB)`);
}
console.log(JSON.stringify(results));
