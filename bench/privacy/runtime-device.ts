/**
 * A device running the real @edgeloop/runtime in Node against the attack server: signed manifest,
 * artifact download, signed profile, the telemetry collector with its file storage (budget record,
 * period counts, queue). Only the engine is a stand-in (it echoes its input): what is measured here
 * is what the runtime records, seals and sends. Its requests go from a loopback address of its own
 * and are captured as sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, tensor, type EngineHost, type Model, type ReportableFeature, type Runtime } from '@edgeloop/runtime';
import { fileSystemStore, fileTelemetryStorage } from '@edgeloop/runtime/node';
import type { TelemetryState } from '../../packages/runtime/src/telemetry/telemetry-storage.js';
import type { AttackServer } from './attack-server.js';
import { sourceAddress } from './loopback-http.js';

export interface CapturedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  status: number;
  answer: string;
}

export interface RuntimeDevice {
  runtime: Runtime;
  model: Model;
  /** Every request the runtime made, in order, with the server's answer. */
  sent: CapturedRequest[];
  /** The telemetry state the runtime keeps on disk (budget record, counts, queue). */
  state(): Promise<TelemetryState>;
  /** `times` inferences of `x` (a float32 vector); those with `fail` set throw in the engine. */
  run(times: number, x: Float32Array, options?: { fail?: boolean }): Promise<void>;
  dispose(): Promise<void>;
}

/** An engine that echoes `x` as `y` (or fails when asked): the runtime around it is the real one. */
function echoHost(): EngineHost & { failing: boolean } {
  return {
    failing: false,
    async createSession() {
      const spec = { dtype: 'float32' as const, dims: [null] };
      return { id: 1, backend: 'wasm', signature: { inputs: [{ name: 'x', ...spec }], outputs: [{ name: 'y', ...spec }] }, skipped: [], createMs: 0 };
    },
    async run(_id, feeds) {
      if (this.failing) throw new Error('the echo engine was told to fail');
      return { outputs: { y: feeds.x! }, backend: 'wasm', events: [] };
    },
    async release() {},
    async capabilities() {
      throw new Error('not probed here');
    },
  };
}

export async function startRuntimeDevice(server: AttackServer, options: { source: number; declared: readonly ReportableFeature[]; now: () => number }): Promise<RuntimeDevice> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-device-'));
  const sent: CapturedRequest[] = [];
  const host = echoHost();
  const telemetryStorage = fileTelemetryStorage(join(dir, 'telemetry'));
  const runtime = createRuntime({
    serverUrl: server.url,
    app: 'demo',
    trust: { publicKeys: [server.publicKey] },
    host,
    storage: fileSystemStore({ directory: join(dir, 'models') }),
    fetch: capturingFetch(sourceAddress(options.source), sent),
    now: options.now,
    telemetry: { storage: telemetryStorage, now: options.now, autoFlush: false, flushOnPageHide: false },
  });
  try {
    const model = await runtime.load('vad', { telemetry: { report: [...options.declared] } });
    return {
      runtime,
      model,
      sent,
      state: () => telemetryStorage.read('demo'),
      async run(times, x, runOptions = {}) {
        host.failing = runOptions.fail ?? false;
        for (let i = 0; i < times; i++) {
          try {
            await model.run({ x: tensor('float32', x, [x.length]) });
          } catch (error) {
            if (!runOptions.fail) throw error;
          }
        }
        host.failing = false;
      },
      async dispose() {
        await runtime.dispose();
        await removeDir(dir);
      },
    };
  } catch (error) {
    await runtime.dispose();
    await removeDir(dir);
    throw error;
  }
}

/** The collector's last merge is written after `dispose()` resolves (it stores, never sends): retry until it is done. */
function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/**
 * `fetch` over node:http from a chosen loopback address, recording each request as it went out
 * (headers as given, body as text) and the status and body of the answer.
 */
function capturingFetch(from: string, log: CapturedRequest[]): typeof fetch {
  return async function deviceFetch(input: RequestInfo | URL, init: RequestInit = {}) {
    const url = input instanceof Request ? input.url : String(input);
    const headers = Object.fromEntries(new Headers(init.headers).entries());
    const body = typeof init.body === 'string' ? init.body : init.body == null ? '' : String(init.body);
    const method = init.method ?? 'GET';
    const answer = await new Promise<{ status: number; headers: Record<string, string>; bytes: Buffer }>((resolve, reject) => {
      const req = request(url, { method, headers, localAddress: from, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const flat: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 0, headers: flat, bytes: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(body === '' ? undefined : body);
    });
    log.push({ method, url, headers, body, status: answer.status, answer: answer.bytes.length < 4096 ? answer.bytes.toString('utf8') : `(${answer.bytes.length} bytes)` });
    const nullBody = answer.status === 204 || answer.status === 304;
    return new Response(nullBody ? null : new Uint8Array(answer.bytes), { status: answer.status, headers: answer.headers });
  };
}
