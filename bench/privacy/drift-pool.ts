/**
 * Runs drift trials on worker threads (one per core, two at most by default: the reference machine
 * has two): each trial's repetitions are cut into chunks with their own seeds, and the counts added.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { DriftCount, DriftTrial } from './drift-trials.js';

const ENTRY = new URL('./drift-worker.ts', import.meta.url);

/** Repetitions per chunk: small enough to share work evenly, large enough that messages cost nothing. */
const CHUNK_REPS = 25;

export async function runDriftTrialsInParallel(trials: readonly DriftTrial[], threads = Math.min(2, availableParallelism())): Promise<DriftCount[]> {
  const chunks: Array<{ trial: number; task: DriftTrial }> = [];
  trials.forEach((trial, t) => {
    for (let start = 0, k = 0; start < trial.reps; start += CHUNK_REPS, k++) {
      chunks.push({ trial: t, task: { ...trial, reps: Math.min(CHUNK_REPS, trial.reps - start), seed: trial.seed * 100_003 + k } });
    }
  });
  const totals = trials.map((t): DriftCount => ({ reps: 0, shiftedFlagged: 0, anyFlagged: 0 }));
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(threads, chunks.length)) }, () => startWorker());
  try {
    await Promise.all(
      workers.map(async (worker) => {
        while (next < chunks.length) {
          const chunk = chunks[next++]!;
          const count = await ask(worker, chunk.task);
          const total = totals[chunk.trial]!;
          total.reps += count.reps;
          total.shiftedFlagged += count.shiftedFlagged;
          total.anyFlagged += count.anyFlagged;
        }
      }),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return totals;
}

/**
 * A worker running the TypeScript entry from the sources: Node 20 cannot load .ts itself, so the
 * thread registers tsx's hooks first (as packages/runtime/src/node/source-worker.ts does); it
 * inherits `--conditions=@edgeloop/source` from this process's execArgv.
 */
function startWorker(): Worker {
  const code = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(ENTRY.href)}); })`;
  return new Worker(code, { eval: true });
}

function ask(worker: Worker, task: DriftTrial): Promise<DriftCount> {
  return new Promise((resolve, reject) => {
    const onMessage = (count: DriftCount) => {
      worker.off('error', onError);
      resolve(count);
    };
    const onError = (error: Error) => {
      worker.off('message', onMessage);
      reject(error);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    worker.postMessage(task);
  });
}
