import type { EngineHost } from '../engine/engine-host.js';
import { createLocalEngineHost, type LocalEngineHostOptions } from '../engine/local-engine-host.js';

/**
 * Runs engines on the calling thread: for environments without workers, and for Node scripts.
 * Inference then blocks that thread for as long as it takes.
 * @example
 * const runtime = createRuntime({ serverUrl, app: 'kiosk', host: inlineHost(), storage });
 */
export function inlineHost(options: LocalEngineHostOptions = {}): EngineHost {
  return createLocalEngineHost(options);
}
