/** The scenarios of `npm run bench:loop`: what the candidate release does differently from the control. */
import type { Effect } from './fleet.js';

export interface Scenario {
  name: string;
  /** In words, for the table and docs. */
  description: string;
  effect: Effect | null;
  /** A regression the gate must roll back (false for A/A). */
  regression: boolean;
}

export const SCENARIOS = {
  aa: { name: 'aa', description: 'A/A: the candidate behaves exactly like the control', effect: null, regression: false },
  errors_plus50pct: { name: 'errors_plus50pct', description: 'errors +50 % relative on every backend', effect: { errorMultiplier: { wasm: 1.5, webgpu: 1.5 } }, regression: true },
  p95_plus20pct: { name: 'p95_plus20pct', description: 'latency ×1.2 (p95 +20 %) on every backend', effect: { latencyMultiplier: { wasm: 1.2, webgpu: 1.2 } }, regression: true },
  webgpu_only: { name: 'webgpu_only', description: 'WebGPU devices only: errors ×2 and latency ×1.3', effect: { errorMultiplier: { webgpu: 2 }, latencyMultiplier: { webgpu: 1.3 } }, regression: true },
  output_shift_0p5sigma: { name: 'output_shift_0p5sigma', description: 'both output features shift by 0.5 σ', effect: { outputShift: 0.5 }, regression: true },
  nan_on_webgpu: { name: 'nan_on_webgpu', description: 'NaN on WebGPU: golden checks fail there, the device falls back to WASM', effect: { nanOnWebgpu: true }, regression: true },
  crash_loop: { name: 'crash_loop', description: 'crash loop: every device reverts the trial at its next start', effect: { crashLoop: true }, regression: true },
} as const satisfies Record<string, Scenario>;

export type ScenarioName = keyof typeof SCENARIOS;
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];
