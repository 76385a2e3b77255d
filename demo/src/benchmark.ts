import type { BackendName, Runtime } from '@edgeloop/runtime';
import { detectSpeech, median } from './vad.js';

export interface BackendResult {
  asked: BackendName;
  /** The backend that verifiably ran, or null when none could. */
  ran: string | null;
  frames: number;
  medianMs: number | null;
  p95Ms: number | null;
  /** Why the backend asked for could not run, if it could not. */
  note: string | null;
}

const p95 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)] ?? Number.NaN;

/**
 * Runs Silero VAD over the clip once per backend, each in a worker of its own, and reports what
 * really ran: a backend that cannot start (no WebGPU adapter, say) is reported, not faked.
 */
export async function benchmarkBackends(runtime: Runtime, samples: Float32Array, backends: readonly BackendName[]): Promise<BackendResult[]> {
  const results: BackendResult[] = [];
  for (const asked of backends) {
    try {
      const model = await runtime.load('vad', { backends: [asked], worker: 'own' });
      try {
        const { latenciesMs } = await detectSpeech(model, samples);
        results.push({ asked, ran: model.backend, frames: latenciesMs.length, medianMs: median(latenciesMs), p95Ms: p95(latenciesMs), note: null });
      } finally {
        await model.dispose();
      }
    } catch (error) {
      results.push({ asked, ran: null, frames: 0, medianMs: null, p95Ms: null, note: error instanceof Error ? error.message : String(error) });
    }
  }
  return results;
}
