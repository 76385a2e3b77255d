import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Liveness } from '../health/liveness.js';

const held = new Set<string>();

/**
 * Liveness by process: an id names its host and process (`host:pid:random`). A holder in this
 * process is alive while it holds the id; one in another process on this host while that process
 * runs; one on another host is taken to be alive (a shared directory across hosts cannot tell).
 */
export function processLiveness(): Liveness {
  return {
    async hold() {
      const id = `${hostname()}:${process.pid}:${randomUUID()}`;
      held.add(id);
      return id;
    },
    release(id) {
      held.delete(id);
    },
    async isAlive(id) {
      const [host, pidText] = id.split(':');
      const pid = Number(pidText);
      if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return true;
      if (pid === process.pid) return held.has(id);
      try {
        process.kill(pid, 0);
        return true;
      } catch (error) {
        // EPERM: the process exists but belongs to another user.
        return (error as NodeJS.ErrnoException).code !== 'ESRCH';
      }
    },
  };
}
