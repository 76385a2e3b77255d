import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { RuntimeError } from '../errors.js';

export interface FileLockOptions {
  /** A lock older than this is taken over even if its process may be alive (another host, a hung process). Default 30 s. */
  staleMs?: number;
  /** How long to wait for the lock before failing. Default 10 s. */
  timeoutMs?: number;
}

interface Holder {
  pid: number;
  host: string;
  token: string;
}

/** Runs `critical` while holding the lock file at `path`; other processes (and callers here) wait. */
export function fileLock(path: string, options: FileLockOptions = {}) {
  const staleMs = options.staleMs ?? 30_000;
  const timeoutMs = options.timeoutMs ?? 10_000;
  // Callers in this process queue here instead of spinning on the lock file.
  let queue: Promise<unknown> = Promise.resolve();

  return function withLock<T>(critical: () => Promise<T>): Promise<T> {
    const run = queue.then(async () => {
      const token = await acquire(path, staleMs, timeoutMs);
      try {
        return await critical();
      } finally {
        await release(path, token);
      }
    });
    queue = run.catch(() => undefined);
    return run;
  };
}

/**
 * Exclusive create (O_CREAT | O_EXCL) is atomic on local filesystems: exactly one process makes
 * the file. A lock whose process is gone (same host, no such pid) or that is older than `staleMs`
 * is stale: it is renamed away — only one process can rename a given file — and the renamed file is
 * checked to be the one judged stale before it is deleted; if another process had meanwhile taken
 * the lock afresh, its file is linked back into place.
 */
async function acquire(path: string, staleMs: number, timeoutMs: number): Promise<string> {
  const me: Holder = { pid: process.pid, host: hostname(), token: randomUUID() };
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(me));
      } finally {
        await handle.close();
      }
      return me.token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const current = await inspect(path);
    if (current !== null && isStale(current, staleMs)) {
      await takeOver(path, current.ino, me.token);
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      const who = current?.holder ? `process ${current.holder.pid} on ${current.holder.host}` : 'another process';
      throw new RuntimeError('storage', `telemetry storage is locked by ${who} (${path}) for over ${timeoutMs} ms; if no edgeloop process uses this directory, delete the lock file`);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 + attempt * 2) * (0.5 + Math.random())));
  }
}

async function inspect(path: string): Promise<{ ino: number; ageMs: number; holder: Holder | null } | null> {
  let info;
  let text;
  try {
    info = await stat(path);
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null; // released meanwhile: try again
    throw error;
  }
  let holder: Holder | null = null;
  try {
    holder = JSON.parse(text) as Holder;
  } catch {
    holder = null; // being written right now (created, not yet filled): judged by its age alone
  }
  return { ino: info.ino, ageMs: Date.now() - info.mtimeMs, holder };
}

function isStale(lock: { ageMs: number; holder: Holder | null }, staleMs: number): boolean {
  if (lock.ageMs > staleMs) return true;
  const holder = lock.holder;
  if (holder === null || holder.host !== hostname() || !Number.isInteger(holder.pid)) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function takeOver(path: string, staleIno: number, token: string): Promise<void> {
  const aside = `${path}.${token}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else took it over first
    throw error;
  }
  const moved = await stat(aside);
  if (moved.ino !== staleIno) {
    // A fresh lock was taken between our look and our rename: put it back. (If yet another process
    // created one in that instant, link fails and two holders overlap once: the window is a few µs.)
    await link(aside, path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  await rm(aside, { force: true });
}

async function release(path: string, token: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  let holder: Holder;
  try {
    holder = JSON.parse(text) as Holder;
  } catch {
    return; // a lock being written by its new holder: ours was complete before we held it, so it is not ours
  }
  // Only our own lock: if ours was taken over as stale, the file is someone else's now.
  if (holder.token === token) await rm(path, { force: true });
}
