/**
 * `npm run bench:runtime [-- --quick]`: the runtime against a plain worker calling the same engine
 * APIs, in real Chromium, same page, same run; writes bench-results/runtime.json and prints a table.
 * Ratios are medians of alternating runs. WebGPU figures come from SwiftShader (CPU) and are for
 * information only: they test the code path, not GPU speed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { launchChromium } from '../e2e/support/chromium.js';
import { openBenchPage, serveRuntimeBench, SWIFTSHADER_WEBGPU } from '../e2e/support/runtime-bench-site.js';

const quick = process.argv.includes('--quick');
const runs = quick ? { ppocr: 5, movenet: 15, silero: 60, ttfi: 2, gpu: 1 } : { ppocr: 21, movenet: 61, silero: 401, ttfi: 11, gpu: 3 };

interface Metric {
  name: string;
  value: number;
  unit: string;
  goal?: string;
  note?: string;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (value: number, digits = 3) => Number(value.toFixed(digits));

const site = await serveRuntimeBench();
const browser = await launchChromium(SWIFTSHADER_WEBGPU);
const metrics: Metric[] = [];
try {
  const page = await browser.newPage();
  await openBenchPage(page, site.url);
  const caps = await page.evaluate(() => window.edgeloopBench.capabilities());
  const threads = caps.crossOriginIsolated ? 'isolated' : 'not isolated';
  console.error(`Chromium ${browser.version()}, ${caps.hardwareConcurrency} cores, ${threads}, WebGPU: ${caps.webgpu?.architecture ?? caps.webgpuUnavailableReason}`);

  for (const [key, goal, label] of [
    ['ppocr', '<= 1.05', 'ppocr_det_ratio_runtime_vs_raw'],
    ['movenet', '<= 1.05', 'movenet_ratio_runtime_vs_raw'],
    ['silero', '<= 1.25', 'silero_ratio_runtime_vs_raw'],
  ] as const) {
    const { runtimeMs, rawMs } = await page.evaluate(([k, n]) => window.edgeloopBench.compare(k, n), [key, runs[key]] as const);
    metrics.push({ name: label, value: round(runtimeMs / rawMs), unit: 'ratio', goal, note: `median ${runtimeMs.toFixed(3)} ms runtime vs ${rawMs.toFixed(3)} ms raw over ${runs[key]} alternating runs (WASM)` });
  }

  const ttfi = { memory: [] as number[], cache: [] as number[] };
  for (let i = 0; i < runs.ttfi; i++) {
    // Alternate which goes first, so neither always runs on a warmer worker.
    for (const source of i % 2 === 0 ? (['memory', 'cache'] as const) : (['cache', 'memory'] as const)) {
      ttfi[source].push(await page.evaluate((s) => window.edgeloopBench.ttfi('silero', s), source));
    }
  }
  metrics.push({
    name: 'ttfi_ratio_cached_vs_memory',
    value: round(median(ttfi.cache) / median(ttfi.memory)),
    unit: 'ratio',
    goal: '<= 1.2',
    note: `Silero VAD, warm shared worker: median ${median(ttfi.cache).toFixed(1)} ms from IndexedDB vs ${median(ttfi.memory).toFixed(1)} ms from memory (${runs.ttfi} each)`,
  });

  const longest = await page.evaluate(() => window.edgeloopBench.longestTask('silero', 100));
  metrics.push({ name: 'main_thread_longest_task_ms', value: round(longest.longestMs, 1), unit: 'ms', goal: '<= 50', note: `Silero VAD load + 100 runs in a worker; ${longest.longTasks} long task(s)` });

  // WebGPU on SwiftShader: information only.
  const gpu = await page.evaluate(async (n) => {
    const b = window.edgeloopBench;
    await b.open('g-vad', 'silero', { backends: ['webgpu'], worker: 'own' });
    await b.open('g-pose', 'movenet', { backends: ['webgpu'], worker: 'own' });
    await b.run('g-vad', 'silero');
    await b.run('g-pose', 'movenet');
    return { silero: (await b.run('g-vad', 'silero', n)).medianMs, movenet: (await b.run('g-pose', 'movenet', n)).medianMs };
  }, runs.gpu);
  const device = `WebGPU on ${caps.webgpu?.architecture ?? 'none'} (CPU emulation; correctness only)`;
  metrics.push({ name: 'silero_webgpu_swiftshader_ms', value: round(gpu.silero, 1), unit: 'ms', note: `${device}, median of ${runs.gpu}` });
  metrics.push({ name: 'movenet_webgpu_swiftshader_ms', value: round(gpu.movenet, 1), unit: 'ms', note: `${device}, median of ${runs.gpu}` });
} finally {
  await browser.close();
  await site.close();
}

const result = { suite: 'runtime', quick, date: new Date().toISOString(), metrics };
await mkdir('bench-results', { recursive: true });
await writeFile('bench-results/runtime.json', `${JSON.stringify(result, null, 2)}\n`);
const pass = (m: Metric) => {
  if (!m.goal) return 'info';
  const [op, bound] = m.goal.split(' ');
  return (op === '<=' ? m.value <= Number(bound) : m.value >= Number(bound)) ? 'ok' : 'MISS';
};
console.log(['metric'.padEnd(32), 'value'.padStart(9), 'unit'.padEnd(6), 'goal'.padEnd(8), '     ', 'note'].join(' '));
for (const m of metrics) console.log([m.name.padEnd(32), String(m.value).padStart(9), m.unit.padEnd(6), (m.goal ?? '').padEnd(8), pass(m).padEnd(5), m.note ?? ''].join(' '));
console.log(`wrote bench-results/runtime.json${quick ? ' (--quick)' : ''}`);
