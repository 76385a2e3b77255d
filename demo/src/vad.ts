import { tensor, type Model, type Tensor } from '@edgeloop/runtime';

/** Silero VAD v5/v6 take 512 new samples per frame at 16 kHz (32 ms)... */
export const FRAME_SAMPLES = 512;
/** ...plus the last 64 samples of the previous frame, as silero-vad's own OnnxWrapper does. */
export const CONTEXT_SAMPLES = 64;
export const SAMPLE_RATE = 16000;

export interface VadResult {
  /** Speech probability per frame. */
  probabilities: number[];
  /** Wall-clock milliseconds per `model.run` call, as the page sees them. */
  latenciesMs: number[];
}

/**
 * Runs Silero VAD over 16 kHz mono audio, frame by frame, carrying the recurrent state and the
 * 64-sample context between frames.
 */
export async function detectSpeech(model: Model, samples: Float32Array): Promise<VadResult> {
  let state: Tensor = tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  const sr = tensor('int64', BigInt64Array.of(BigInt(SAMPLE_RATE)), []);
  let context = new Float32Array(CONTEXT_SAMPLES);
  const probabilities: number[] = [];
  const latenciesMs: number[] = [];
  for (let start = 0; start + FRAME_SAMPLES <= samples.length; start += FRAME_SAMPLES) {
    const frame = samples.subarray(start, start + FRAME_SAMPLES);
    const input = new Float32Array(CONTEXT_SAMPLES + FRAME_SAMPLES);
    input.set(context, 0);
    input.set(frame, CONTEXT_SAMPLES);
    context = frame.slice(-CONTEXT_SAMPLES);
    const started = performance.now();
    const outputs = await model.run({ input: tensor('float32', input, [1, input.length]), state, sr });
    latenciesMs.push(performance.now() - started);
    const output = outputs.output;
    const next = outputs.stateN;
    if (!output || !next) throw new Error(`model "${model.name}" did not return 'output' and 'stateN'`);
    probabilities.push((output.data as Float32Array)[0]!);
    state = next;
  }
  return { probabilities, latenciesMs };
}

/** Frames above `threshold`, merged into [startSeconds, endSeconds] segments. */
export function speechSegments(probabilities: readonly number[], threshold = 0.5): Array<[number, number]> {
  const frameSeconds = FRAME_SAMPLES / SAMPLE_RATE;
  const segments: Array<[number, number]> = [];
  let open: number | null = null;
  probabilities.forEach((p, i) => {
    if (p >= threshold && open === null) open = i;
    if (p < threshold && open !== null) {
      segments.push([open * frameSeconds, i * frameSeconds]);
      open = null;
    }
  });
  if (open !== null) segments.push([open * frameSeconds, probabilities.length * frameSeconds]);
  return segments;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
