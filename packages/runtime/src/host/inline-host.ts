import type { EngineHost } from '../engine/engine-host.js';
import { createLocalEngineHost } from '../engine/local-engine-host.js';

/**
 * Runs engines on the calling thread: for environments without workers, and for Node scripts.
 * Inference then blocks that thread for as long as it takes.
 */
export function inlineHost(): EngineHost {
  return createLocalEngineHost();
}
