import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread from a TypeScript entry, for running from the sources (tests, tsx): Node
 * 20 cannot load .ts itself and `--import tsx` in a worker's execArgv does not reach its loader,
 * so the thread registers tsx's hooks first and then imports the entry.
 */
export function sourceWorker(entry: URL, options: WorkerOptions = {}): Worker {
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { ...options, eval: true });
}
