import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../runtime.js';
import { fileSystemStore } from '../storage/filesystem-store.js';
import { FakeRepository } from '../testing/fake-repository.js';
import { ScriptedHost } from './testing/scripted-host.js';

const CHILD = resolve(import.meta.dirname, '../node/testing/trial-child.ts');
const REPO_ROOT = resolve(import.meta.dirname, '../../../..');
const bytesOf = (text: string) => new TextEncoder().encode(text);

describe('crash loops in Node (filesystem store, real processes)', () => {
  let repo: FakeRepository;
  let directory: string;
  beforeEach(async () => {
    repo = await FakeRepository.create('demo');
    await repo.start();
    directory = mkdtempSync(join(tmpdir(), 'edgeloop-crash-loop-'));
  });
  afterEach(async () => {
    await repo.stop();
  });

  /** Starts a process that loads `vad`; resolves with what it printed, and a way to kill it. */
  const child = (mode: 'hang' | 'clean') =>
    new Promise<{ printed: { version: string; health: string }; kill(): Promise<void>; exited: Promise<number | null> }>((resolveChild, reject) => {
      const proc = spawn(process.execPath, ['--import', 'tsx', '--conditions=@edgeloop/source', CHILD, repo.url, directory, repo.key.publicKey, mode], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((done) => proc.on('exit', (code) => done(code)));
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error('the child printed nothing in 30 s'));
      }, 30_000);
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (!out.includes('\n')) return;
        clearTimeout(timer);
        resolveChild({
          printed: JSON.parse(out.split('\n')[0]!) as { version: string; health: string },
          exited,
          kill: async () => {
            proc.kill('SIGKILL'); // dies holding its lease, as a crashed kiosk process would
            await exited;
          },
        });
      });
    });

  const installFiveThenPublishSix = async () => {
    repo.publish('vad', '5.0.0', bytesOf('five'));
    const runtime = createRuntime({ serverUrl: repo.url, app: 'demo', host: new ScriptedHost(), backends: ['wasm'], storage: fileSystemStore({ directory }), trust: { publicKeys: [repo.key.publicKey] } });
    expect((await runtime.load('vad')).version).toBe('5.0.0');
    await runtime.dispose();
    repo.publish('vad', '6.0.0', bytesOf('six'));
  };

  it('reverts a release whose process died twice during its trial at the next start, without running it', async () => {
    await installFiveThenPublishSix();
    for (let i = 0; i < 2; i++) {
      const running = await child('hang');
      expect(running.printed).toEqual({ version: '6.0.0', health: 'trial' });
      await running.kill();
    }
    const host = new ScriptedHost();
    const runtime = createRuntime({ serverUrl: repo.url, app: 'demo', host, backends: ['wasm'], storage: fileSystemStore({ directory }), trust: { publicKeys: [repo.key.publicKey] } });
    const reverts: unknown[] = [];
    runtime.addEventListener('trial-revert', (event) => reverts.push(event.detail));
    const model = await runtime.load('vad');
    expect(model.version).toBe('5.0.0');
    expect(model.health).toMatchObject({ state: 'reverted', version: '6.0.0', reason: 'crash_loop', detail: 'the page or process running it ended 2 times during its trial' });
    expect(host.created.map((s) => s.model)).toEqual(['five']); // the release was not run
    expect(reverts).toEqual([expect.objectContaining({ reason: 'crash_loop', version: '6.0.0', atStart: true, to: { version: '5.0.0', releaseId: expect.any(String) } })]);
    expect(await readdir(join(directory, 'leases'))).toEqual([]);
    await runtime.dispose();
  }, 90_000);

  it('does not count a process that ended cleanly (disposed) during the trial, nor one that is still running', async () => {
    await installFiveThenPublishSix();
    const alive = await child('hang');
    for (let i = 0; i < 2; i++) {
      const clean = await child('clean');
      expect(clean.printed).toEqual({ version: '6.0.0', health: 'trial' });
      expect(await clean.exited).toBe(0);
    }
    const host = new ScriptedHost();
    const runtime = createRuntime({ serverUrl: repo.url, app: 'demo', host, backends: ['wasm'], storage: fileSystemStore({ directory }), trust: { publicKeys: [repo.key.publicKey] } });
    const model = await runtime.load('vad');
    expect(model.health).toMatchObject({ state: 'trial', version: '6.0.0' });
    await runtime.dispose();
    await alive.kill();
  }, 90_000);
});
