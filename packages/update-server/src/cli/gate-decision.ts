/** A rollout gate decision as `GET …/rollouts/{id}/decisions` lists it (the fields the CLI shows). */
export interface DecisionView {
  windowEnd: string;
  stepIndex: number;
  outcome: 'promote' | 'hold' | 'pause' | 'rollback';
  rule: string;
  reason: string;
  applied: boolean;
}

/** What each rule of the gate (`decide` in @edgeloop/telemetry) means, for people. */
const RULES: Record<string, string> = {
  insufficient_reports: 'an arm has fewer reports than the floor',
  sample_ratio: "the candidate's share of the step's reports is not the step's percentage",
  regression: 'the candidate is worse than the control by more than the tolerance',
  non_inferior: 'the candidate is within its margin on every metric',
  min_hold: 'the step has not yet held its minimum of closed windows',
  inconclusive: 'some metric is not yet conclusive',
  max_duration: 'the step ran past its longest allowed duration',
};

/**
 * The latest gate decision in words, for `edgeloop rollout status`: the outcome, the rule and what
 * it means, the closed window it was taken at, whether the gate acted, and the reason.
 */
export function describeDecision(decision: DecisionView): string[] {
  const meaning = RULES[decision.rule];
  const acted =
    decision.outcome === 'hold' ? '' : decision.applied ? ', acted on' : ', not acted on: a person changed the rollout first';
  return [
    `  gate: ${decision.outcome} (rule ${decision.rule}${meaning ? `: ${meaning}` : ''}) at the window ending ${decision.windowEnd}, step ${decision.stepIndex + 1}${acted}`,
    `    ${decision.reason}`,
  ];
}

/** What status says for a rollout the gate has not decided on. */
export function noDecision(gated: boolean): string {
  return gated
    ? '  gate: no decision yet (the gate decides after each closed telemetry window, from released reports)'
    : '  gate: off (steps advance on their hold time or by hand)';
}
