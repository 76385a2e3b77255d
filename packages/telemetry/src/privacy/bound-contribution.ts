import { TelemetryError } from '../errors.js';
import type { Rng } from '../random/rng.js';

/**
 * Contribution bounding: if a count vector holds more than `clip` values, keeps a uniform random
 * subset of exactly `clip` of them (sampling without replacement, i.e. a multivariate hypergeometric
 * draw), so no device outweighs another by more than `clip` values per feature and window, and the
 * kept counts stay unbiased in proportion. Vectors at or under the clip are returned as a copy.
 */
export function boundContribution(cells: readonly number[], clip: number, rng: Rng): number[] {
  if (!Number.isSafeInteger(clip) || clip < 1) {
    throw new TelemetryError('invalid_argument', `clip must be an integer ≥ 1, got ${clip}`);
  }
  let population = 0;
  for (const c of cells) population += c;
  if (population <= clip) return [...cells];
  const remaining = [...cells];
  const kept = new Array<number>(cells.length).fill(0);
  for (let draw = 0; draw < clip; draw++) {
    // Pick the r-th remaining value; the cell holding it gives one value up.
    let r = Math.floor(rng.next() * population);
    let cell = 0;
    while (r >= remaining[cell]!) r -= remaining[cell++]!;
    remaining[cell]! -= 1;
    kept[cell]! += 1;
    population -= 1;
  }
  return kept;
}
