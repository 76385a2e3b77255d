/**
 * A worker thread of `npm run bench:loop`: its own in-process update server, fed one rollout at a
 * time by the main thread ({ id, scenario, size, seed, via } → { id, result } or { id, error }).
 */
import { parentPort } from 'node:worker_threads';
import { LoopServer } from './server.js';
import { runScenario, simulatorProfile, type RunResult } from './setup.js';
import type { ScenarioName } from './scenarios.js';

export interface LoopTask {
  id: number;
  scenario: ScenarioName;
  size: number;
  seed: number;
  via: 'releases' | 'http';
}

export type LoopReply = { id: number; result: RunResult } | { id: number; error: string };

const port = parentPort;
if (port === null) throw new Error('bench/loop/worker.ts runs as a worker thread');
const server = await LoopServer.open(simulatorProfile());
// Tasks run one at a time, in the order they arrive.
let queue = Promise.resolve();
port.on('message', (message: LoopTask | 'close') => {
  queue = queue.then(async () => {
    if (message === 'close') {
      await server.close();
      port.postMessage('closed'); // the main thread terminates the worker
      return;
    }
    try {
      port.postMessage({ id: message.id, result: await runScenario(server, message) } satisfies LoopReply);
    } catch (error) {
      port.postMessage({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies LoopReply);
    }
  });
});
port.postMessage('ready');
