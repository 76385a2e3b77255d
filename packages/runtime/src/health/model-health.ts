import type { Model } from '../model.js';
import type { RevertReason } from './health-state.js';

/**
 * `model.health`: where the model's release stands with the device's health gate.
 * - `trial`: the release is new here; it answers, the previous release waits loaded beside it, and
 *   it commits after `needed` successful inferences within the policy.
 * - `committed`: the release passed (or was never on trial: a first install, a release already proven).
 * - `reverted`: the release failed (`reason`, `detail`); the previous release answers now
 *   (`model.version` is the previous one's) and this release is refused until the manifest offers another.
 */
export interface ModelHealth {
  state: 'trial' | 'committed' | 'reverted';
  /** The release this is about: the one on trial, committed, or reverted. */
  releaseId: string;
  version: string;
  /** On trial: successful real inferences counted toward the commit, and how many are needed. */
  inferences?: number;
  needed?: number;
  reason?: RevertReason;
  detail?: string;
  /** Reverted during this load: milliseconds from the failed check to the previous release's first answer. */
  revertMs?: number;
  /** Backends on which the release's golden checks failed; it runs on a later one. */
  refusedBackends?: string[];
}

/**
 * The app's own early-life check, asked before a trial commits: `true` commits; `false` or a reason
 * reverts with reason `app_check`.
 * @example
 * createRuntime({ ..., healthCheck: (model) => speechRate(model) < 0.9 || 'speech detected in silence' });
 */
export type HealthCheck = (model: Model) => boolean | string | Promise<boolean | string>;
