/** What bench/delivery/main.ts exposes on `window.edgeloopDelivery`; shared with the tests and the benchmark. */
export interface LoadRequest {
  serverUrl: string;
  publicKey: string;
  model: string;
  app?: string;
  dbName?: string;
  /** `none`: no engine session (times delivery alone); `worker`: the runtime's worker with onnxruntime-web. */
  engine: 'none' | 'worker';
  activation?: 'on-load' | 'next-load';
  /** The runtime's `wholeFileMaxBytes` (default: the runtime's default, 16 MiB with IndexedDB); 0 always streams. */
  wholeFileMaxBytes?: number;
  /** Run once after loading, with float32 inputs filled with `fill`. */
  feeds?: Record<string, { dims: number[]; fill: number }>;
}

export interface ProgressPoint {
  loaded: number;
  total: number;
  fromCache: number;
}

export type LoadResult =
  | {
      ok: true;
      version: string;
      source: 'network' | 'cache';
      manifest: string;
      problem: { code: string; message: string } | null;
      loadedMs: number;
      /** Download + sha256 + IndexedDB writes of the release files (the manifest excluded). */
      downloadMs: number;
      firstRunMs: number | null;
      progress: ProgressPoint[];
    }
  | { ok: false; error: { code: string; message: string }; progress: ProgressPoint[] };

export interface DeliveryPage {
  load(request: LoadRequest): Promise<LoadResult>;
  /** `fetch(url).arrayBuffer()` timed, with the given cache mode (default: a plain fetch, which writes the HTTP cache). */
  plainFetch(url: string, cache?: RequestCache): Promise<{ ms: number; bytes: number }>;
  firstRunFromMemory(url: string, feeds: Record<string, { dims: number[]; fill: number }>): Promise<number>;
  storedState(dbName?: string): Promise<{ active: string | null; previous: string | null; usage: number }>;
  /** IndexedDB `files` records and how many stored chunks each has, to check partial downloads. */
  partialFiles(dbName?: string): Promise<Array<{ received: number; complete: boolean; chunks: number }>>;
  activations(): unknown[];
  warmWorker(): Promise<void>;
  estimateFree(free: number): void;
  limitIndexedDbWrites(bytes: number): void;
}
