import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm, stat, mkdtemp } from 'node:fs/promises';
import { get, request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapAdmin, spawnServer, type ServerProcess } from './support/server-process.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An upload whose body is sent in two parts: `finish()` sends the rest and resolves with the answer. */
function splitUpload(url: URL, token: string, body: Uint8Array, firstBytes: number) {
  const req = request(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.byteLength) },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  answer.catch(() => undefined); // a killed server fails it before anyone awaits it; finish() still rejects
  req.write(body.subarray(0, firstBytes));
  return {
    finish() {
      req.end(body.subarray(firstBytes));
      return answer;
    },
    abandon() {
      req.destroy();
    },
  };
}

/**
 * The server as operators run it (`edgeloop serve` in its own process) stopped the way process
 * managers stop it: SIGTERM must let transfers in flight finish; SIGKILL leaves partial uploads
 * that the next start removes.
 */
describe('stopping edgeloop serve', () => {
  let dataDir: string;
  let token: string;
  let server: ServerProcess | undefined;
  const bigFile = new Uint8Array(randomBytes(32 * 1024 * 1024));

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-shutdown-'));
    token = await bootstrapAdmin(['--data-dir', dataDir]);
  }, 120_000);
  afterAll(async () => {
    if (server?.alive()) server.child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('SIGTERM lets a download and an upload in flight finish, refuses new connections, then exits 0', async () => {
    server = await spawnServer(['--data-dir', dataDir]);
    const admin = (path: string) => new URL(`v1/admin/apps/demo/models/vad/${path}`, server!.url);
    // A 32 MiB file: larger than what socket buffers hold, so the download is really in flight.
    const added = await fetch(admin('versions/5.0.0/variants/default/files/weights'), {
      method: 'POST',
      body: bigFile,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
    });
    expect(added.status).toBe(201);
    const artifact = new URL(`v1/artifacts/sha256/${sha256(bigFile)}`, server.url);

    const download = await new Promise<IncomingMessage>((resolve, reject) => get(artifact, resolve).on('error', reject));
    expect(download.statusCode).toBe(200);
    download.pause(); // a slow client: the server has sent a few MiB at most
    const upload = splitUpload(admin('versions/6.0.0'), token, new Uint8Array(randomBytes(256 * 1024)), 128 * 1024);
    await sleep(300);

    server.child.kill('SIGTERM');
    await expect.poll(() => server!.output(), { timeout: 10_000 }).toMatch(/SIGTERM: no longer accepting connections/);
    await expect(fetch(new URL('healthz', server.url))).rejects.toThrow(); // the listener is closed

    const received: Buffer[] = [];
    const done = new Promise<void>((resolve, reject) => {
      download.on('data', (chunk: Buffer) => received.push(chunk));
      download.on('end', () => resolve());
      download.on('error', reject);
      download.on('aborted', () => reject(new Error('the download was cut')));
    });
    download.resume();
    const uploaded = upload.finish();
    await done;
    const bytes = Buffer.concat(received);
    expect(bytes.byteLength).toBe(bigFile.byteLength);
    expect(sha256(bytes)).toBe(sha256(bigFile));
    // Not a model file: the upload gets its real answer (400), not a cut connection.
    expect((await uploaded).status).toBe(400);
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('after SIGKILL mid-upload, the next start removes the partial upload', async () => {
    server = await spawnServer(['--data-dir', dataDir]);
    const upload = splitUpload(new URL('v1/admin/apps/demo/models/vad/versions/7.0.0', server.url), token, new Uint8Array(4 * 1024 * 1024), 1024 * 1024);
    const tmp = join(dataDir, 'artifacts', 'tmp');
    const stagedBytes = async () => {
      const names = await readdir(tmp).catch(() => [] as string[]);
      const sizes = await Promise.all(names.map(async (name) => (await stat(join(tmp, name))).size));
      return sizes.reduce((a, b) => a + b, 0);
    };
    await expect.poll(stagedBytes, { timeout: 10_000 }).toBeGreaterThan(0);
    server.child.kill('SIGKILL');
    expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
    upload.abandon();
    expect(await readdir(tmp)).toHaveLength(1);

    server = await spawnServer(['--data-dir', dataDir]);
    expect(await readdir(tmp)).toEqual([]);
    expect(server.output()).toMatch(/removed 1 partial upload left in/);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  });
});
