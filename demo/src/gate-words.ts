import type { Decision, Rollout } from './server-views.js';

/** What each rule of the rollout gate means (the same words as `edgeloop rollout status`). */
const RULES: Record<string, string> = {
  insufficient_reports: 'an arm has fewer reports than the floor',
  sample_ratio: "the candidate's share of the step's reports is not the step's percentage",
  regression: 'the candidate is worse than the control by more than the tolerance',
  non_inferior: 'the candidate is within its margin on every metric',
  min_hold: 'the step has not yet held its minimum of closed windows',
  inconclusive: 'some metric is not yet conclusive',
  max_duration: 'the step ran past its longest allowed duration',
};

/** The gate's latest decision on a rollout in words: outcome, rule and its meaning, reason, window. */
export function decisionInWords(rollout: Rollout, decision: Decision | null): string {
  if (decision === null) {
    return rollout.gate === null
      ? 'no gate: steps advance on their hold time or by hand'
      : 'no decision yet: the gate decides once per closed hour, from released reports';
  }
  const meaning = RULES[decision.rule] ?? decision.rule;
  const acted = decision.outcome === 'hold' ? '' : decision.applied ? ' (acted on)' : ' (not acted on: a person changed the rollout first)';
  return `${decision.outcome}${acted} — ${decision.rule}: ${meaning} — ${decision.reason} — window ending ${new Date(decision.windowEnd).toLocaleString()}, step ${decision.stepIndex + 1}`;
}
