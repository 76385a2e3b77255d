import type { FlushResult, PendingTelemetry } from '@edgeloop/runtime';

/** What bench/privacy/wire-page/main.ts exposes on `window.edgeloopWire`. */
export interface WirePage {
  /** Creates the runtime (same-origin server, pinned key) and loads `vad`, declaring the features `declared`. */
  start(publicKey: string, declared: string[]): Promise<{ version: string }>;
  /** `times` inferences; with `fail` the engine throws on each (an `engine` error). */
  run(times: number, fail: boolean): Promise<void>;
  flush(): Promise<FlushResult>;
  pending(): Promise<PendingTelemetry>;
}

declare global {
  interface Window {
    edgeloopWire: WirePage;
  }
}
