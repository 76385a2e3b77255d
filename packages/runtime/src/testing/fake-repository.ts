import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  keyIdOf,
  signingBytes,
  toBase64,
  type Manifest,
  type ModelRelease,
  type RotationStatement,
  type SignedEnvelope,
} from '@edgeloop/protocol';

export interface RecordedRequest {
  method: string;
  path: string;
  /** The query string without `?` (empty when none). */
  query: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  status: number;
  /** Body bytes actually written to the socket. */
  bytesSent: number;
}

/** An Ed25519 key made with WebCrypto, as the server would hold it. */
export interface FakeKey {
  keyId: string;
  publicKey: string;
  sign(bytes: Uint8Array<ArrayBuffer>): Promise<string>;
}

export async function fakeKey(): Promise<FakeKey> {
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    keyId: await keyIdOf(raw),
    publicKey: toBase64(raw),
    sign: async (bytes) => toBase64(new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, pair.privateKey, bytes))),
  };
}

export async function rotationStatement(from: FakeKey, to: FakeKey, sequence: number, signer: FakeKey = from): Promise<RotationStatement> {
  const signed = {
    type: 'edgeloop/key-rotation' as const,
    sequence,
    previousKeyId: from.keyId,
    keyId: to.keyId,
    publicKey: to.publicKey,
    issuedAt: new Date(0).toISOString(),
  };
  return { signed, signatures: [{ keyId: from.keyId, sig: await signer.sign(signingBytes('rotation', signed)) }] };
}

/**
 * A mutable update server on loopback, for conformance tests of the client against exact wire
 * behaviour (in the spirit of tuf-conformance): tests change what is signed and served, inject
 * faults, and read back every request and how many bytes it was sent.
 */
export class FakeRepository {
  manifest: Manifest;
  key!: FakeKey;
  /** Signs manifests instead of `key` when set (an attacker, a rotated key). */
  signer: FakeKey | undefined;
  rotations: RotationStatement[] = [];
  /** Replaces the next served envelope (tampering); cleared after use unless `sticky`. */
  envelopeOverride: ((envelope: SignedEnvelope) => unknown) | undefined;
  /** Bytes served per path; tests may replace them to simulate substitution. */
  readonly files = new Map<string, Uint8Array>();
  /** ETag per path; default `"<sha256 of the bytes>"`. */
  readonly etags = new Map<string, string>();
  /** Closes the connection after this many body bytes of the next artifact response, once per entry. */
  readonly dropAfter = new Map<string, number>();
  /** Paths answered without Content-Length (chunked), so only the body itself tells the size. */
  readonly chunked = new Set<string>();
  readonly requests: RecordedRequest[] = [];
  telemetryStatus = 202;
  /** The app whose URL serves the manifest; default the manifest's own `app` (tests serve another app's manifest there). */
  servedAt: string | undefined;
  /** Rewrites the manifest body as sent (e.g. numbers JSON.stringify cannot write). */
  bodyOverride: ((text: string) => string) | undefined;
  /** Answers manifest polls with this status instead (e.g. 503: the server is failing). */
  manifestStatus: number | undefined;
  #server: Server | undefined;
  url = '';

  constructor(app = 'demo', now = Date.now()) {
    this.manifest = {
      schema: 1,
      app,
      version: 1,
      issuedAt: new Date(now).toISOString(),
      expires: new Date(now + 24 * 60 * 60 * 1000).toISOString(),
      models: {},
    };
  }

  static async create(app = 'demo', now = Date.now()): Promise<FakeRepository> {
    const repo = new FakeRepository(app, now);
    repo.key = await fakeKey();
    return repo;
  }

  /** Adds (or replaces) `model` at `version` with these bytes and bumps the manifest version. */
  publish(model: string, version: string, bytes: Uint8Array): ModelRelease {
    return this.publishFiles(model, version, [{ role: 'model', bytes }]);
  }

  /** Adds a release with several files (e.g. a model and its weights, or golden files), and optionally a health policy. */
  publishFiles(model: string, version: string, files: Array<{ role: 'model' | 'weights' | 'golden'; bytes: Uint8Array }>, extra: Pick<ModelRelease, 'health'> = {}): ModelRelease {
    const entries = files.map(({ role, bytes }) => {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const path = `v1/artifacts/sha256/${sha256}`;
      this.files.set(`/${path}`, bytes);
      return { role, sha256, length: bytes.byteLength, url: path };
    });
    const release: ModelRelease = { model, version, releaseId: `${model}@${version}#${entries.map((e) => e.sha256.slice(0, 8)).join('+')}`, format: 'onnx', files: entries, ...extra };
    this.bump({ models: { ...this.manifest.models, [model]: release } });
    return release;
  }

  /** Changes manifest fields and raises its version, as the server does on any change. */
  bump(changes: Partial<Manifest> = {}): void {
    this.manifest = { ...this.manifest, ...changes, version: changes.version ?? this.manifest.version + 1 };
  }

  async envelope(): Promise<SignedEnvelope> {
    const signer = this.signer ?? this.key;
    const signed = this.manifest as unknown as Record<string, unknown>;
    return {
      signed,
      signatures: [{ keyId: signer.keyId, sig: await signer.sign(signingBytes('manifest', signed)) }],
      ...(this.rotations.length > 0 && { rotations: this.rotations }),
    };
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void this.#handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks).toString('utf8'), res);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/`;
    return this.url;
  }

  async #handle(method: string, rawUrl: string, headers: RecordedRequest['headers'], body: string, res: ServerResponse): Promise<void> {
    const parsed = new URL(rawUrl, 'http://x');
    const path = parsed.pathname;
    const record: RecordedRequest = { method, path, query: parsed.search.slice(1), headers, body, status: 0, bytesSent: 0 };
    this.requests.push(record);
    const send = (status: number, responseHeaders: Record<string, string>, payload?: Uint8Array | string) => {
      record.status = status;
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
      record.bytesSent = bytes?.byteLength ?? 0;
      res.writeHead(status, responseHeaders).end(bytes);
    };
    const app = this.servedAt ?? this.manifest.app;
    if (path === `/v1/apps/${app}/manifest`) {
      if (this.manifestStatus !== undefined) return send(this.manifestStatus, {});
      const envelope = await this.envelope();
      const served = this.envelopeOverride ? this.envelopeOverride(envelope) : envelope;
      const text = this.bodyOverride ? this.bodyOverride(JSON.stringify(served)) : JSON.stringify(served);
      const etag = `"${createHash('sha256').update(text).digest('hex').slice(0, 16)}"`;
      if (headers['if-none-match'] === etag) return send(304, { ETag: etag });
      return send(200, { 'Content-Type': 'application/json', ETag: etag }, text);
    }
    if (path === '/v1/keys' || path === `/v1/apps/${app}/keys`) return send(200, { 'Content-Type': 'application/json' }, JSON.stringify({ keys: [{ keyId: this.key.keyId, publicKey: this.key.publicKey }] }));
    if (path === `/v1/apps/${app}/telemetry`) return send(this.telemetryStatus, {});
    const bytes = this.files.get(path);
    if (!bytes) return send(404, {});
    const etag = this.etags.get(path) ?? `"${createHash('sha256').update(bytes).digest('hex')}"`;
    let start = 0;
    let status = 200;
    const range = /^bytes=(\d+)-$/.exec(String(headers.range ?? ''));
    if (range && (headers['if-range'] === undefined || headers['if-range'] === etag)) {
      start = Number(range[1]);
      status = 206;
    }
    const slice = bytes.subarray(start);
    const responseHeaders: Record<string, string> = { 'Content-Type': contentType(path), ETag: etag };
    if (!this.chunked.has(path)) responseHeaders['Content-Length'] = String(slice.byteLength);
    if (status === 206) responseHeaders['Content-Range'] = `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}`;
    const drop = this.dropAfter.get(path);
    if (drop !== undefined) {
      this.dropAfter.delete(path);
      record.status = status;
      res.writeHead(status, responseHeaders);
      const part = slice.subarray(0, drop);
      record.bytesSent = part.byteLength;
      // Write what fits, then cut the connection mid-body, as a dropped network would.
      res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    send(status, responseHeaders, slice);
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

  bytesSentTo(pathPart: string): number {
    return this.requestsTo(pathPart).reduce((total, request) => total + request.bytesSent, 0);
  }
}

/** Pages and scripts a browser test serves from the repository's origin need their types; anything else is bytes. */
function contentType(path: string): string {
  if (path.endsWith('.html')) return 'text/html; charset=utf-8';
  if (path.endsWith('.js')) return 'text/javascript';
  if (path.endsWith('.json')) return 'application/json';
  return 'application/octet-stream';
}
