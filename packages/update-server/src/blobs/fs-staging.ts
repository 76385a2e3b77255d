import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Uploads are staged in `<root>/tmp` under names that say who writes them:
 * `upload.<pid>.<uuid>.<host>`, so a server starting up can tell a partial upload left by a
 * process that died (remove it) from one another live process is writing (leave it).
 */
const PREFIX = 'upload.';
const HOST = hostname();

/** Default age past which any staged file is removed, whoever wrote it: no upload pauses that long. */
export const STALE_STAGING_MS = 60 * 60 * 1000;

export function stagingName(): string {
  return `${PREFIX}${process.pid}.${randomUUID()}.${HOST}`;
}

/** The writer of a staged file, or null for a name this code did not make (e.g. an older server's). */
function writerOf(name: string): { pid: number; host: string } | null {
  if (!name.startsWith(PREFIX)) return null;
  const [pid, uuid, ...host] = name.slice(PREFIX.length).split('.');
  if (!pid || !/^\d+$/.test(pid) || !uuid || host.length === 0) return null;
  return { pid: Number(pid), host: host.join('.') };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: checks the process exists, sends nothing
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

/**
 * Removes partial uploads that no live process will finish: those written on this host by a
 * process that is gone (or by this very pid in an earlier life, e.g. pid 1 in a container), and
 * any not written to for `staleMs`. Runs when the server starts; returns how many it removed.
 */
export async function sweepStaging(root: string, options: { staleMs?: number; now?: number } = {}): Promise<number> {
  const dir = join(root, 'tmp');
  const staleBefore = (options.now ?? Date.now()) - (options.staleMs ?? STALE_STAGING_MS);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names) {
    const writer = writerOf(name);
    const orphaned = writer !== null && writer.host === HOST && (writer.pid === process.pid || !isRunning(writer.pid));
    let stale = false;
    if (!orphaned) {
      const info = await stat(join(dir, name)).catch(() => null);
      stale = info !== null && info.mtimeMs < staleBefore;
    }
    if (orphaned || stale) {
      await rm(join(dir, name), { force: true, recursive: true });
      removed += 1;
    }
  }
  return removed;
}
