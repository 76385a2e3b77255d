import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { lock } from 'proper-lockfile';
import { RuntimeError } from '../errors.js';
import type { NamedLocks } from './model-store.js';

export interface DirectoryLocksOptions {
  /**
   * A lock not refreshed for this long belongs to a process that died or stalled, and is taken
   * over. Holders refresh it every half of this. Default 20 s.
   */
  staleMs?: number;
}

/**
 * {@link NamedLocks} across processes: a lock is a directory `<dir>/<name>.lock` (mkdir is atomic
 * on every local filesystem), kept fresh by its holder and taken over once stale (proper-lockfile).
 * Waiters poll, backing off from 10 ms to 200 ms, and stop when their signal aborts.
 */
export function directoryLocks(dir: string, options: DirectoryLocksOptions = {}): NamedLocks {
  const staleMs = options.staleMs ?? 20_000;
  let made: Promise<unknown> | undefined;
  return {
    async request(name, requestOptions, task) {
      await (made ??= mkdir(dir, { recursive: true }));
      const path = join(dir, name.replace(/[^A-Za-z0-9._-]/g, '_'));
      let wait = 10;
      for (;;) {
        if (requestOptions.signal?.aborted) throw new RuntimeError('aborted', `waiting for the lock "${name}" was cancelled`, { cause: requestOptions.signal.reason });
        let release: (() => Promise<void>) | undefined;
        try {
          release = await lock(path, {
            realpath: false,
            stale: staleMs,
            // A holder that stalled past the stale window lost the lock to another process; what it
            // writes is still atomic (temporary file + rename), and the new holder re-reads first.
            onCompromised: () => undefined,
          });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
        }
        if (release) {
          try {
            return await task({ name });
          } finally {
            await release().catch(() => undefined); // already released if it was compromised
          }
        }
        if (requestOptions.ifAvailable) return task(null);
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, 200);
      }
    },
  };
}
