import type { FlushResult, PendingTelemetry } from '@edgeloop/runtime';

/** What e2e/telemetry-page/main.ts exposes on `window.edgeloopTelemetry`. */
export interface TelemetryPage {
  /** Creates the runtime (same-origin server, pinned key) and loads model `vad` with one declared feature. */
  start(publicKey: string): Promise<{ version: string }>;
  /** Moves the telemetry clock: Date.now() + offsetMs. */
  setClockOffset(offsetMs: number): void;
  run(times: number): Promise<void>;
  flush(): Promise<FlushResult>;
  pending(): Promise<PendingTelemetry>;
  /** The privacy budget record as IndexedDB holds it. */
  budget(): Promise<{ day: number; spentMicros: number; sealedUntil: number }>;
}

declare global {
  interface Window {
    edgeloopTelemetry: TelemetryPage;
  }
}
