/**
 * App version ranges for targeting: space-separated comparators that must all hold, e.g.
 * `>=2.1.0 <3`. Versions compare numerically by dot-separated parts (missing parts are 0);
 * pre-release suffixes (`-beta.1`) are ignored, which is what app stores do with build numbers.
 */
const COMPARATOR = /^(>=|<=|>|<|=)?(\d+(?:\.\d+){0,3})$/;

export function isVersionRange(range: string): boolean {
  const parts = range.trim().split(/\s+/);
  return parts.length > 0 && parts.every((part) => COMPARATOR.test(part));
}

export function parseVersion(version: string): number[] | null {
  const match = /^v?(\d+(?:\.\d+){0,3})(?:[-+].*)?$/.exec(version.trim());
  return match ? match[1]!.split('.').map(Number) : null;
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** False when `version` is not a version or `range` is malformed: an unknown app version never matches. */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (!v || !isVersionRange(range)) return false;
  return range
    .trim()
    .split(/\s+/)
    .every((part) => {
      const [, op = '=', bound] = COMPARATOR.exec(part)!;
      const c = compareVersions(v, bound!.split('.').map(Number));
      return op === '>=' ? c >= 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '<' ? c < 0 : c === 0;
    });
}
