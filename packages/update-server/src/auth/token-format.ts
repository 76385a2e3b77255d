import { createHash, randomBytes } from 'node:crypto';

/**
 * `elk_` + 43 base64url characters (256 random bits). The prefix lets secret scanners and people
 * recognise a leaked token; the server keeps only its sha256, which is enough for a 256-bit
 * secret (no password stretching needed: it cannot be guessed, only stolen).
 */
export const TOKEN_PREFIX = 'elk_';
const TOKEN_PATTERN = /^elk_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function looksLikeToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
