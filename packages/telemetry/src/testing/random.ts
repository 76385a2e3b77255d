import { discreteLaplaceDecay, sampleDiscreteLaplace } from '../privacy/discrete-laplace.js';
import type { Rng } from '../random/rng.js';

/** Multinomial(n, p) counts by inverse-CDF sampling; for tests. */
export function multinomial(n: number, p: readonly number[], rng: Rng): number[] {
  const cells = p.map(() => 0);
  for (let i = 0; i < n; i++) {
    let u = rng.next();
    let j = 0;
    while (j < p.length - 1 && u >= p[j]!) u -= p[j++]!;
    cells[j]! += 1;
  }
  return cells;
}

/** Adds `reports` independent discrete Laplace draws (per-report ε) to every cell; for tests. */
export function addNoise(cells: number[], reports: number, epsilon: number, rng: Rng): number[] {
  const decay = discreteLaplaceDecay(epsilon);
  return cells.map((c) => {
    let noised = c;
    for (let r = 0; r < reports; r++) noised += sampleDiscreteLaplace(decay, rng);
    return noised;
  });
}

/** A standard normal draw (Box–Muller); for tests. */
export function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}
