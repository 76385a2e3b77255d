/** Worker-thread entry of the drift trials: one {@link DriftTrial} in, its {@link DriftCount} out. */
import { parentPort } from 'node:worker_threads';
import { runDriftTrials, type DriftTrial } from './drift-trials.js';

parentPort!.on('message', (trial: DriftTrial) => {
  parentPort!.postMessage(runDriftTrials(trial));
});
