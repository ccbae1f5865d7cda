// Deterministic test bytes shared by the vector generator and the node/browser tests. The same
// generator exists in C++ (tests/unit/test_data.h): xorshift32, four bytes per step, little-endian.
export function testBytes(length, seed) {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    for (let b = 0; b < 4 && i + b < length; b++) out[i + b] = (x >>> (8 * b)) & 0xff;
  }
  return out;
}
