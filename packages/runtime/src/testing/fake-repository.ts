import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Manifest, ModelRelease } from '@edgeloop/protocol';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A mutable stand-in for the update server on loopback, for tests of the client against exact
 * wire behaviour: tests change the manifest and the bytes served, and read what was requested.
 */
export class FakeRepository {
  manifest: Manifest;
  /** Bytes served per path; tests may replace them to simulate corruption. */
  readonly files = new Map<string, Uint8Array>();
  readonly requests: RecordedRequest[] = [];
  /** Status answered to telemetry posts. */
  telemetryStatus = 202;
  #server: Server | undefined;
  url = '';

  constructor(app = 'demo') {
    this.manifest = { schema: 1, app, version: 1, issuedAt: new Date().toISOString(), models: {} };
  }

  /** Adds (or replaces) `model` at `version` with these bytes and bumps the manifest version. */
  publish(model: string, version: string, bytes: Uint8Array): ModelRelease {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const path = `v1/artifacts/sha256/${sha256}`;
    this.files.set(`/${path}`, bytes);
    const release: ModelRelease = {
      model,
      version,
      releaseId: `${model}@${version}`,
      format: 'onnx',
      files: [{ role: 'model', sha256, length: bytes.byteLength, url: path }],
    };
    this.manifest = { ...this.manifest, version: this.manifest.version + 1, models: { ...this.manifest.models, [model]: release } };
    return release;
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        this.requests.push({ method: req.method ?? '', path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        if (path === `/v1/apps/${this.manifest.app}/manifest`) {
          const etag = `"m${this.manifest.version}"`;
          if (req.headers['if-none-match'] === etag) return res.writeHead(304, { ETag: etag }).end();
          return res.writeHead(200, { 'Content-Type': 'application/json', ETag: etag }).end(JSON.stringify(this.manifest));
        }
        if (path === `/v1/apps/${this.manifest.app}/telemetry`) return res.writeHead(this.telemetryStatus).end();
        const bytes = this.files.get(path);
        if (bytes) return res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(bytes);
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  requestsTo(pathPart: string): RecordedRequest[] {
    return this.requests.filter((request) => request.path.includes(pathPart));
  }
}
