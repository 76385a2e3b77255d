import { ProtocolError } from '../errors.js';

/**
 * Canonical JSON for signing (the subset of RFC 8785 our documents use): object keys sorted by
 * UTF-16 code units, no whitespace, strings and numbers as JSON.stringify writes them. Signer and
 * verifier must produce identical bytes from equal values, whatever order keys arrived in.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ProtocolError('invalid_argument', `cannot sign a non-finite number (${value})`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new ProtocolError('invalid_argument', `cannot sign a value of type ${typeof value}`);
}
