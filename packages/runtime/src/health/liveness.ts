/**
 * Whether the runtime that took a lease is still running: a crash during a trial is a lease whose
 * holder is gone without giving it back. In a browser each runtime holds a Web Lock named after its
 * lease id for its whole life; the browser releases it when the page (or worker) ends, whatever
 * way it ends. The filesystem store brings its own (by process id).
 */
export interface Liveness {
  /** A new id, held until {@link Liveness.release} or the end of the page or process. */
  hold(): Promise<string>;
  release(id: string): void;
  isAlive(id: string): Promise<boolean>;
}

const PREFIX = 'edgeloop:alive:';

/** Liveness from Web Locks (`navigator.locks`), which the browser releases when a page or worker ends. */
export function webLocksLiveness(locks: LockManager): Liveness {
  const releases = new Map<string, () => void>();
  return {
    async hold() {
      const id = crypto.randomUUID();
      await new Promise<void>((granted, failed) => {
        locks
          .request(`${PREFIX}${id}`, () => {
            granted();
            return new Promise<void>((resolve) => releases.set(id, resolve));
          })
          .catch(failed);
      });
      return id;
    },
    release(id) {
      releases.get(id)?.();
      releases.delete(id);
    },
    async isAlive(id) {
      if (releases.has(id)) return true;
      const { held = [] } = await locks.query();
      return held.some((lock) => lock.name === `${PREFIX}${id}`);
    },
  };
}
