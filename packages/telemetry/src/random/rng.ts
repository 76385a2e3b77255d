import { TelemetryError } from '../errors.js';

/**
 * A source of uniform random numbers. Privacy noise and contribution bounding take one explicitly,
 * so tests pass {@link seededRng} and production passes {@link cryptoRng}; nothing is detected.
 */
export interface Rng {
  /** A uniform double in [0, 1) with 53 random bits. */
  next(): number;
}

const TWO_POW_53 = 9007199254740992;

/** Combines two 32-bit words into a 53-bit double in [0, 1): 27 high bits of a, 26 of b. */
function toUnit(a: number, b: number): number {
  return ((a >>> 5) * 67108864 + (b >>> 6)) / TWO_POW_53;
}

/**
 * Deterministic xoshiro128** generator (Blackman & Vigna), seeded through splitmix32 so that
 * nearby seeds give unrelated streams. For tests and benchmarks only: it is not cryptographic,
 * and noise drawn from a predictable stream protects nothing.
 *
 * @example
 * const rng = seededRng(42);
 * rng.next(); // same value on every run
 */
export function seededRng(seed: number): Rng {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = (): number => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return result;
  };
  return {
    next: function seededNext() {
      return toUnit(next32(), next32());
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The Web Crypto function this package needs; `globalThis.crypto.getRandomValues` in browsers, workers and Node ≥ 19. */
export type GetRandomValues = (array: Uint32Array) => Uint32Array;

/**
 * A cryptographically secure {@link Rng} over Web Crypto's `getRandomValues`, refilled 512 words at a
 * time. Pass `getRandomValues` explicitly where `globalThis.crypto` is absent.
 */
export function cryptoRng(getRandomValues?: GetRandomValues): Rng {
  const fill = getRandomValues ?? globalGetRandomValues();
  const buffer = new Uint32Array(512);
  let position = buffer.length;
  const word = (): number => {
    if (position === buffer.length) {
      fill(buffer);
      position = 0;
    }
    return buffer[position++]!;
  };
  return {
    next: function cryptoNext() {
      return toUnit(word(), word());
    },
  };
}

function globalGetRandomValues(): GetRandomValues {
  const crypto = (globalThis as { crypto?: { getRandomValues?: GetRandomValues } }).crypto;
  const getRandomValues = crypto?.getRandomValues;
  if (typeof getRandomValues !== 'function') {
    throw new TelemetryError(
      'invalid_argument',
      'globalThis.crypto.getRandomValues is not available; pass cryptoRng(getRandomValues) a Web Crypto implementation',
    );
  }
  return (array) => getRandomValues.call(crypto, array);
}
