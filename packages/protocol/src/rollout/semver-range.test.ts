import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareVersions, isVersionRange, satisfies } from './semver-range.js';

const version = fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 3 });

describe('app version ranges', () => {
  it('evaluates comparators', () => {
    expect(satisfies('2.1.0', '>=2.1.0 <3')).toBe(true);
    expect(satisfies('3.0.0', '>=2.1.0 <3')).toBe(false);
    expect(satisfies('2.0.9', '>=2.1')).toBe(false);
    expect(satisfies('2.4.0-beta.1', '=2.4')).toBe(true);
    expect(satisfies('not-a-version', '>=1')).toBe(false);
    expect(isVersionRange('>=1 <2')).toBe(true);
    expect(isVersionRange('~1.2')).toBe(false);
  });

  it('agrees with the numeric order for every pair', () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        const [va, vb] = [a.join('.'), b.join('.')];
        const c = compareVersions(a, b);
        expect(satisfies(va, `<${vb}`)).toBe(c < 0);
        expect(satisfies(va, `>=${vb}`)).toBe(c >= 0);
        expect(satisfies(va, `=${vb}`)).toBe(c === 0);
      }),
    );
  });
});
