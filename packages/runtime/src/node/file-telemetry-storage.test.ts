import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { SealOutcome } from '../telemetry/state/seal-periods.js';
import { fileTelemetryStorage } from './file-telemetry-storage.js';

const DAY = 86_400_000;
const script = fileURLToPath(new URL('./testing/telemetry-process.ts', import.meta.url));
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-telemetry-procs-'));
  dirs.push(dir);
  return dir;
}

/** Starts a real Node process on the storage; resolves with the JSON line it prints. */
function processOn(...args: string[]): { child: ChildProcess; output: Promise<unknown> } {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeloop/source', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const output = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout!.on('data', () => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      if (line && args[0] === 'hold') resolve(JSON.parse(line));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(stdout.trim().split('\n').at(-1)!));
      else reject(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`));
    });
  });
  return { child, output };
}

describe('fileTelemetryStorage across processes', () => {
  it('merges from several processes without losing a count, and they seal the period exactly once', async () => {
    const dir = await tempDir();
    await Promise.all([0, 1, 2].map(() => processOn('merge', dir, '300', '20').output));
    const merged = await fileTelemetryStorage(dir).read('demo');
    expect(merged.accumulators.map((a) => a.entry.attempts)).toEqual([60]);

    const outcomes = (await Promise.all([0, 1, 2].map(() => processOn('seal', dir, String(301 * DAY + 1)).output))) as SealOutcome[];
    expect(outcomes.flatMap((o) => o.sealed)).toHaveLength(1);
    const sealed = await fileTelemetryStorage(dir).read('demo');
    expect(sealed.queue).toHaveLength(1);
    expect(sealed.queue[0]!.entries[0]!.inferences).toBe(60);
    expect(sealed.accumulators).toEqual([]);
    expect(sealed.budget).toEqual({ day: 300, spentMicros: 3_000_000, sealedUntil: 301 * DAY });
  }, 120_000);

  it('takes over the lock of a process killed while holding it', async () => {
    const dir = await tempDir();
    const holder = processOn('hold', dir);
    await holder.output;
    const storage = fileTelemetryStorage(dir, { lock: { timeoutMs: 300 } });
    await expect(storage.transact('demo', () => 1)).rejects.toMatchObject({ code: 'storage', message: expect.stringMatching(`locked by process ${holder.child.pid} on ${hostname()}`) });
    holder.child.kill('SIGKILL');
    await new Promise((resolve) => holder.child.once('exit', resolve));
    expect(await fileTelemetryStorage(dir, { lock: { timeoutMs: 5_000 } }).transact('demo', () => 'done')).toBe('done');
  }, 60_000);

  it('takes over a lock older than staleMs even when its process may be alive (another host)', async () => {
    const dir = await tempDir();
    const lock = join(dir, 'demo.telemetry.lock');
    await writeFile(lock, JSON.stringify({ pid: 1, host: 'elsewhere', token: 'x' }));
    const storage = fileTelemetryStorage(dir, { lock: { staleMs: 1_000, timeoutMs: 200 } });
    await expect(storage.transact('demo', () => 1)).rejects.toMatchObject({ message: expect.stringMatching(/locked by process 1 on elsewhere/) });
    const old = new Date(Date.now() - 5_000);
    await utimes(lock, old, old);
    expect(await storage.transact('demo', () => 2)).toBe(2);
  });
});
