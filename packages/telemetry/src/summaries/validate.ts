import { TelemetryError, type TelemetryErrorCode } from '../errors.js';

/** Throws unless `edges` is a non-empty, strictly increasing list of finite numbers. */
export function assertEdges(edges: readonly number[], what: string, code: TelemetryErrorCode = 'invalid_argument'): void {
  if (!Array.isArray(edges) || edges.length === 0) {
    throw new TelemetryError(code, `${what}: bin edges must be a non-empty array of finite numbers`);
  }
  for (let i = 0; i < edges.length; i++) {
    const edge = edges[i];
    if (typeof edge !== 'number' || !Number.isFinite(edge)) {
      throw new TelemetryError(code, `${what}: bin edge ${i} must be a finite number, got ${String(edge)}`);
    }
    if (i > 0 && !(edge > edges[i - 1]!)) {
      throw new TelemetryError(code, `${what}: bin edges must be strictly increasing, got ${edges[i - 1]} then ${edge}`);
    }
  }
}

/** Throws unless `value` is a safe integer ≥ 0 (counts are integers so that merges are exact). */
export function assertCount(value: unknown, what: string, code: TelemetryErrorCode = 'invalid_argument'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new TelemetryError(code, `${what} must be a safe integer ≥ 0, got ${String(value)}`);
  }
  return value;
}

/** Throws unless `vocabulary` is a non-empty list of distinct strings. */
export function assertVocabulary(vocabulary: readonly string[], what: string, code: TelemetryErrorCode = 'invalid_argument'): void {
  if (!Array.isArray(vocabulary) || vocabulary.length === 0) {
    throw new TelemetryError(code, `${what}: vocabulary must be a non-empty array of strings`);
  }
  const seen = new Set<string>();
  for (const word of vocabulary) {
    if (typeof word !== 'string') throw new TelemetryError(code, `${what}: vocabulary entries must be strings, got ${String(word)}`);
    if (seen.has(word)) throw new TelemetryError(code, `${what}: vocabulary lists "${word}" twice; entries must be distinct`);
    seen.add(word);
  }
}
