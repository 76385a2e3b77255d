import { createRuntime, RuntimeError, type Model } from '@edgeloop/runtime';
import { benchmarkBackends, type BackendResult } from './benchmark.js';
import { drawProbabilities } from './chart.js';
import { startTelemetryPanel } from './telemetry-panel.js';
import { decodeWav } from './wav.js';
import { detectSpeech, median, SAMPLE_RATE, speechSegments } from './vad.js';

/** What the page found, also exposed as `window.edgeloopDemo` for scripts and browser tests. */
export interface DemoState {
  state: 'loading' | 'done' | 'error';
  source?: Model['source'];
  backend?: string;
  version?: string;
  probabilities?: number[];
  medianLatencyMs?: number;
  segments?: Array<[number, number]>;
  error?: { code: string; message: string };
  /** Set once the backend benchmark has run. */
  benchmark?: BackendResult[];
}

declare global {
  interface Window {
    edgeloopDemo: DemoState;
  }
}

const params = new URLSearchParams(location.search);
const serverUrl = params.get('server') ?? import.meta.env.VITE_EDGELOOP_SERVER ?? 'http://127.0.0.1:8787/';
// The server's manifest-signing public key, as `edgeloop serve` prints it (npm start passes it in).
const publicKey = params.get('key') ?? import.meta.env.VITE_EDGELOOP_PUBLIC_KEY;
// A token with scope `read` for the telemetry views and the gate's decisions (npm start passes one).
const viewToken = params.get('token') ?? import.meta.env.VITE_EDGELOOP_TOKEN;
const $ = (id: string) => document.getElementById(id)!;
const runtime = createRuntime({
  serverUrl,
  app: 'demo',
  trust: publicKey ? { publicKeys: [publicKey] } : { trustOnFirstUse: true },
});

function show(state: DemoState): void {
  window.edgeloopDemo = state;
  document.body.dataset.state = state.state;
}

async function clip(): Promise<Float32Array> {
  const response = await fetch(`${import.meta.env.BASE_URL}speech-16k.wav`);
  if (!response.ok) throw new Error(`could not load the bundled clip (${response.status})`);
  const audio = decodeWav(await response.arrayBuffer());
  if (audio.sampleRate !== SAMPLE_RATE) throw new Error(`the clip must be ${SAMPLE_RATE} Hz, got ${audio.sampleRate}`);
  return audio.samples;
}

async function run(model: Model, samples: Float32Array): Promise<void> {
  $('status').textContent = 'running…';
  const result = await detectSpeech(model, samples);
  const segments = speechSegments(result.probabilities);
  const medianLatencyMs = median(result.latenciesMs);
  drawProbabilities($('chart') as HTMLCanvasElement, result.probabilities);
  $('latency').textContent = `${medianLatencyMs.toFixed(2)} ms median (${result.latenciesMs.length} frames)`;
  const speechSeconds = segments.reduce((total, [a, b]) => total + (b - a), 0);
  $('segments').textContent = segments.length
    ? `${speechSeconds.toFixed(1)} s in ${segments.length} segment${segments.length > 1 ? 's' : ''}, from ${segments[0]![0].toFixed(2)} s`
    : 'none';
  $('status').textContent = 'done';
  void panel?.refresh();
  show({
    state: 'done',
    source: model.source,
    backend: model.backend,
    version: model.version,
    probabilities: result.probabilities,
    medianLatencyMs,
    segments,
  });
}

let panel: { refresh(): Promise<void> } | undefined;

async function main(): Promise<void> {
  show({ state: 'loading' });
  $('server').textContent = `${serverUrl} (${publicKey ? `pinned key ${publicKey.slice(0, 8)}…` : 'key trusted on first use'})`;
  const [model, samples] = await Promise.all([runtime.load('vad'), clip()]);
  $('model').textContent = `vad ${model.version}`;
  $('source').textContent = model.source === 'network' ? 'network (verified, now cached)' : 'IndexedDB cache';
  $('backend').textContent = model.backend;
  $('load').textContent = `${model.timings.loadMs.toFixed(0)} ms (session ${model.timings.sessionMs.toFixed(0)} ms)`;
  panel = startTelemetryPanel({ runtime, serverUrl, token: viewToken, app: 'demo', running: () => [{ model: 'vad', version: model.version }] });
  await run(model, samples);
  const runButton = $('run') as HTMLButtonElement;
  const flushButton = $('flush') as HTMLButtonElement;
  runButton.disabled = false;
  flushButton.disabled = false;
  runButton.onclick = () => void run(model, samples).catch(fail);
  flushButton.onclick = async () => {
    // flush() never seals the running period: it stores the counts, seals periods that ended, sends what is sealed.
    const result = await runtime.flush();
    $('telemetry').textContent = result.error ?? `sent ${result.sent} report entr${result.sent === 1 ? 'y' : 'ies'}${result.dropped ? `, dropped ${result.dropped}` : ''}`;
    void panel?.refresh();
  };
  addEventListener('pagehide', () => void runtime.flush());
  void showCapabilities();
  const benchButton = $('bench') as HTMLButtonElement;
  benchButton.disabled = false;
  benchButton.onclick = async () => {
    benchButton.disabled = true;
    $('capabilities').textContent = 'benchmarking…';
    const results = await benchmarkBackends(runtime, samples, ['wasm', 'webgpu']);
    const body = ($('bench-table') as HTMLTableElement).tBodies[0]!;
    body.replaceChildren(
      ...results.map((r) => {
        const row = document.createElement('tr');
        const ms = (value: number | null) => (value === null ? '–' : `${value.toFixed(2)} ms`);
        for (const text of [r.asked, r.ran ?? 'could not run', String(r.frames), ms(r.medianMs), ms(r.p95Ms), r.note ?? '']) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      }),
    );
    ($('bench-table') as HTMLTableElement).hidden = false;
    await showCapabilities();
    benchButton.disabled = false;
    show({ ...window.edgeloopDemo, benchmark: results });
  };
}

async function showCapabilities(): Promise<void> {
  try {
    const caps = await runtime.capabilities();
    const gpu = caps.webgpu
      ? `WebGPU: ${[caps.webgpu.vendor, caps.webgpu.architecture].filter(Boolean).join(' ') || 'adapter'}${caps.webgpu.isFallbackAdapter ? ' (software)' : ''}`
      : `no WebGPU (${caps.webgpuUnavailableReason ?? 'unavailable'})`;
    $('capabilities').textContent = `${gpu} · ${caps.hardwareConcurrency} cores · WASM SIMD ${caps.wasmSimd ? 'yes' : 'no'} · up to ${caps.maxWasmThreads} WASM thread${caps.maxWasmThreads === 1 ? '' : 's'}${caps.crossOriginIsolated ? ' (isolated)' : ''}`;
  } catch (error) {
    $('capabilities').textContent = `capabilities unavailable: ${(error as Error).message}`;
  }
}

function fail(error: unknown): void {
  const code = error instanceof RuntimeError ? error.code : 'error';
  const message = error instanceof Error ? error.message : String(error);
  $('status').textContent = 'failed';
  const box = $('error');
  box.hidden = false;
  box.textContent = `${code}: ${message}`;
  show({ state: 'error', error: { code, message } });
}

main().catch(fail);
