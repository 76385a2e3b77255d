// The cold start of `edgeloop serve` (bench:server's `cold_start_*` metrics): a fresh process on
// an empty data directory, seeding included, until its first manifest answer is a 200; resident
// memory summed over the whole process tree (the server and anything it starts), sampled from /proc.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ColdStart {
  readyMs: number;
  peakRssMb: number;
  processes: number;
}

/** The server as `npm start` runs it: the CLI from source under tsx. */
const SERVE = ['--import', 'tsx', '--conditions=@edgeloop/source', 'packages/update-server/src/cli.ts', 'serve', '--port', '0'];

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** `root` and every process descended from it, from the parent ids in /proc/<pid>/stat. */
async function processTree(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields.length > 1) parents.set(Number(name), Number(fields[1]));
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, parent] of parents) {
      if (tree.has(parent) && !tree.has(pid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** One cold start; the process is stopped (SIGTERM) and its data directory deleted afterwards. */
export async function coldStart(timeoutMs = 60_000): Promise<ColdStart> {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-cold-'));
  const started = performance.now();
  const child = spawn(process.execPath, [...SERVE, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  let peakKb = 0;
  let processes = 1;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const tree = await processTree(child.pid!);
      const total = (await Promise.all(tree.map(rssKb))).reduce((a, b) => a + b, 0);
      if (total > peakKb) {
        peakKb = total;
        processes = tree.length;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  try {
    let readyMs: number | undefined;
    while (readyMs === undefined) {
      if (performance.now() - started > timeoutMs) throw new Error(`no manifest within ${timeoutMs} ms:\n${output}`);
      if (child.exitCode !== null) throw new Error(`edgeloop serve exited (${child.exitCode}):\n${output}`);
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) {
        const res = await fetch(new URL('v1/apps/demo/manifest', url)).catch(() => undefined);
        await res?.arrayBuffer();
        if (res?.status === 200) readyMs = performance.now() - started;
      }
      if (readyMs === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 250)); // whatever it does right after its first answer counts too
    return { readyMs, peakRssMb: peakKb / 1024, processes };
  } finally {
    sampling = false;
    await sampler;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** `runs` cold starts one after another: the median time to ready, the highest peak RSS. */
export async function measureColdStart(runs: number) {
  const results: ColdStart[] = [];
  for (let i = 0; i < runs; i++) results.push(await coldStart());
  const times = results.map((r) => r.readyMs).sort((a, b) => a - b);
  const median = times.length % 2 ? times[(times.length - 1) / 2]! : (times[times.length / 2 - 1]! + times[times.length / 2]!) / 2;
  return {
    metrics: [
      { name: 'cold_start_ms', value: median, unit: 'ms', goal: '<= 5000' },
      { name: 'cold_start_peak_rss_mb', value: Math.max(...results.map((r) => r.peakRssMb)), unit: 'MB', goal: '<= 300' },
    ],
    context: {
      runs,
      command: `node ${SERVE.join(' ')} --data-dir <empty>`,
      readyMs: results.map((r) => Math.round(r.readyMs)),
      peakRssMb: results.map((r) => Math.round(r.peakRssMb)),
      processes: Math.max(...results.map((r) => r.processes)),
    },
  };
}
