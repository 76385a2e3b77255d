import { TelemetryError } from '../errors.js';
import { cryptoRng, type Rng } from '../random/rng.js';
import type { RecordedSummaries } from '../record/feature-recorder.js';
import type { ReportSummaries } from '../report/summaries-schema.js';
import { boundContribution } from './bound-contribution.js';
import { discreteLaplaceDecay, sampleDiscreteLaplace } from './discrete-laplace.js';

/** Privacy settings for one report's summaries. */
export interface PrivacyOptions {
  /**
   * ε per report per window, event-level: how much the report can reveal about any one inference
   * recorded in that window. Split evenly over the profile's entries (basic composition).
   */
  epsilon: number;
  /** At most this many values per entry and report (contribution bound). */
  clip: number;
}

/**
 * Defaults: ε = 4 per report per window (event-level), at most 100 values per entry.
 * With 16 features that is ε = 0.25 per histogram; see the benchmark's power curve against ε.
 */
export const DEFAULT_PRIVACY: Readonly<PrivacyOptions> = Object.freeze({ epsilon: 4, clip: 100 });

/** Options for {@link privatizeSummaries}. */
export interface PrivatizeOptions {
  /** `false` sends raw counts (for trusted, opted-in fleets); default {@link DEFAULT_PRIVACY}. */
  privacy?: PrivacyOptions | false;
  /** Randomness for clipping and noise; default {@link cryptoRng}. Pass seededRng only in tests. */
  rng?: Rng;
}

/**
 * Turns one window's raw counts into what leaves the device: each entry clipped to `clip` values,
 * then discrete Laplace noise with ε/entries on every cell (Δ = 2, one inference replaced by another).
 * Noised counts are kept as they are, negative ones too: clamping would bias the sum over devices
 * that the server's tests rely on.
 *
 * @example
 * const summaries = privatizeSummaries(recorder.drain()); // default ε = 4, clip = 100
 */
export function privatizeSummaries(recorded: RecordedSummaries, options: PrivatizeOptions = {}): ReportSummaries {
  const privacy = options.privacy ?? DEFAULT_PRIVACY;
  if (privacy === false) {
    return { profile: recorded.profile, totals: [...recorded.totals], cells: recorded.cells.map((c) => [...c]), privacy: null };
  }
  const entries = recorded.cells.length;
  if (entries === 0) throw new TelemetryError('invalid_argument', 'nothing to privatize: the profile has no entries');
  const rng = options.rng ?? cryptoRng();
  const decay = discreteLaplaceDecay(privacy.epsilon / entries);
  const cells = recorded.cells.map((raw) => {
    const kept = boundContribution(raw, privacy.clip, rng);
    return kept.map((c) => c + sampleDiscreteLaplace(decay, rng));
  });
  const totals = recorded.totals.map((t) => Math.min(t, privacy.clip));
  return {
    profile: recorded.profile,
    totals,
    cells,
    privacy: { mechanism: 'discrete_laplace', epsilon: privacy.epsilon, clip: privacy.clip },
  };
}
