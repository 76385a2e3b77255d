import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../runtime.js';
import { FakeRepository } from '../testing/fake-repository.js';
import { RecordingHost } from '../testing/recording-host.js';
import { fileSystemStore } from './filesystem-store.js';

const run = promisify(execFile);
const CHILD = resolve(import.meta.dirname, '../node/testing/shared-cache-child.ts');
const REPO_ROOT = resolve(import.meta.dirname, '../../../..');

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('fileSystemStore shared by several runtimes and processes (a kiosk)', () => {
  let repo: FakeRepository;
  let directory: string;
  beforeEach(async () => {
    repo = await FakeRepository.create('demo');
    await repo.start();
    directory = mkdtempSync(join(tmpdir(), 'edgeloop-shared-'));
  });
  afterEach(async () => {
    await repo.stop();
  });

  it('serves 16 concurrent cold loads from 4 processes × 2 runtimes: all succeed, each file is downloaded once, state stays valid', async () => {
    repo.publish('vad', '5.0.0', randomBytes(3 * 1024 * 1024, 1));
    repo.publish('pose', '1.0.0', randomBytes(2 * 1024 * 1024 + 7, 2));
    const processes = Array.from({ length: 4 }, () =>
      run(process.execPath, ['--import', 'tsx', '--conditions=@edgeloop/source', CHILD, repo.url, directory, repo.key.publicKey, 'vad,pose', '2'], {
        cwd: REPO_ROOT,
        timeout: 60_000,
      }),
    );
    const results = (await Promise.all(processes)).flatMap(({ stdout }) => stdout.trim().split('\n').map((line) => JSON.parse(line) as { ok: boolean; model: string; error?: string }));
    expect(results).toHaveLength(16);
    expect(results.filter((result) => !result.ok)).toEqual([]);
    // One process downloaded each file while the others waited for its lock and found it complete.
    expect(repo.requestsTo('/artifacts/').filter((r) => r.status === 200 || r.status === 206)).toHaveLength(2);
    const state = JSON.parse(await readFile(join(directory, 'state.json'), 'utf8')) as { models: Record<string, { active: { version: string } }> };
    expect(Object.fromEntries(Object.entries(state.models).map(([key, pointers]) => [key, pointers.active.version]))).toEqual({ 'demo/vad': '5.0.0', 'demo/pose': '1.0.0' });
    expect((await readdir(directory)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  }, 90_000);

  it('keeps one install id across restarts by default, so a 50% rollout never flips a kiosk', async () => {
    const control = repo.publish('vad', '5.0.0', new TextEncoder().encode('five'));
    const candidate = repo.publish('vad', '6.0.0', new TextEncoder().encode('six'));
    repo.bump({ models: { vad: { ...control, rollout: { id: 'r1', salt: 's', percentage: 50, candidate: { version: '6.0.0', releaseId: candidate.releaseId, format: 'onnx', files: candidate.files } } } } });
    const versions: string[] = [];
    for (let restart = 0; restart < 12; restart++) {
      // Each start is a new runtime over the same directory, with the defaults the docs show.
      const runtime = createRuntime({ serverUrl: repo.url, app: 'demo', host: new RecordingHost(), storage: fileSystemStore({ directory }), trust: { publicKeys: [repo.key.publicKey] } });
      versions.push((await runtime.load('vad')).version);
      runtime.dispose();
    }
    expect(new Set(versions).size).toBe(1);
    expect((await readFile(join(directory, 'install-id'), 'utf8')).trim()).toMatch(/^[0-9a-f]{32}$/);
  });
});
