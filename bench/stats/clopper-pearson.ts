/**
 * One-sided upper confidence bound of a binomial proportion (Clopper–Pearson): the p at which
 * P(Bin(n, p) ≤ x) = 1 − level. With x = 0 it is 1 − (1 − level)^(1/n) (≈ 3/n at 95 %, the rule of three).
 */
export function clopperPearsonUpper(x: number, n: number, level: number): number {
  if (!Number.isInteger(x) || !Number.isInteger(n) || x < 0 || n < 0 || x > n) throw new RangeError(`need integers 0 ≤ x ≤ n, got x = ${x}, n = ${n}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  if (n === 0 || x === n) return 1;
  const cdf = (p: number) => {
    let total = 0;
    let logTerm = n * Math.log1p(-p); // k = 0
    for (let k = 0; k <= x; k++) {
      total += Math.exp(logTerm);
      logTerm += Math.log((n - k) / (k + 1)) + Math.log(p) - Math.log1p(-p);
    }
    return total;
  };
  // The cdf falls as p grows: bisect for the p where it crosses 1 − level.
  let lo = x / n;
  let hi = 1;
  for (let it = 0; it < 100; it++) {
    const mid = (lo + hi) / 2;
    if (cdf(mid) > 1 - level) lo = mid;
    else hi = mid;
  }
  return hi;
}
