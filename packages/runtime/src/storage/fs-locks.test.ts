import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { directoryLocks } from './fs-locks.js';

describe('directoryLocks', () => {
  it('grants a name to one holder at a time across instances; ifAvailable answers null, a waiter can be cancelled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeloop-locks-'));
    const [a, b] = [directoryLocks(dir), directoryLocks(dir)];
    const order: string[] = [];
    let release!: () => void;
    const held = a.request('edgeloop:file:x', {}, async (lock) => {
      expect(lock).not.toBeNull();
      order.push('a start');
      await new Promise<void>((resolve) => (release = resolve));
      order.push('a end');
    });
    await expect.poll(() => order.length).toBe(1);
    expect(await b.request('edgeloop:file:x', { ifAvailable: true }, async (lock) => lock)).toBeNull();
    const controller = new AbortController();
    const cancelled = b.request('edgeloop:file:x', { signal: controller.signal }, async () => 'never');
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'aborted' });
    const waiting = b.request('edgeloop:file:x', {}, async () => order.push('b'));
    setTimeout(release, 50);
    await Promise.all([held, waiting]);
    expect(order).toEqual(['a start', 'a end', 'b']);
  });
});
