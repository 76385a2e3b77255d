import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { appendFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startServer, type RunningServer } from '../server.js';
import { sileroV5 } from '../test-support.js';
import { rawRequest } from '../testing/raw-http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Uploads over real HTTP on loopback, with the faults a busy server meets: full disks, dropped clients, oversized bodies. */
describe('uploads under faults', () => {
  let dir: string;
  let server: RunningServer;
  const logged: string[] = [];
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-upload-faults-'));
    server = await startServer({ dataDir: dir, port: 0, seed: false, issueAdminTokenFor: 'demo', maxUploadBytes: 4 * 1024 * 1024, log: (line) => logged.push(line) });
  }, 60_000);
  afterAll(async () => {
    vi.restoreAllMocks();
    await server?.close();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    await rm(dir, { recursive: true, force: true });
  });

  const publishUrl = (version: string) => new URL(`v1/admin/apps/demo/models/vad/versions/${version}`, server.url);
  const headers = () => ({ Authorization: `Bearer ${server.adminToken}`, 'Content-Type': 'application/octet-stream' });
  const staged = async () => readdir(join(dir, 'artifacts', 'tmp')).catch(() => [] as string[]);
  const alive = async () => (await fetch(new URL('healthz', server.url))).status;

  it('answers a disk that fills up while staging with 507 and Retry-After, and keeps no partial file', async () => {
    // The disk fills after 256 KiB: the staging file's write fails with ENOSPC, as on a full volume.
    const spy = vi.spyOn(fs, 'createWriteStream').mockImplementation(((path: string) => {
      let written = 0;
      return new Writable({
        write(chunk: Buffer, _encoding, callback) {
          written += chunk.byteLength;
          if (written > 256 * 1024) return callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }));
          appendFileSync(path, chunk);
          callback();
        },
      });
    }) as typeof fs.createWriteStream);
    const res = await rawRequest(publishUrl('1.0.0'), { bytes: 2 * 1024 * 1024, headers: headers() });
    spy.mockRestore();
    expect(res.status).toBe(507);
    expect(res.headers?.['retry-after']).toMatch(/^\d+$/);
    expect(JSON.parse(res.body!).error.code).toBe('insufficient_storage');
    expect(await staged()).toEqual([]);
    expect(await alive()).toBe(200);
    // Space is back: the same upload goes through.
    const again = await fetch(publishUrl('1.0.0'), { method: 'POST', body: sileroV5, headers: headers() });
    expect(again.status).toBe(201);
  });

  it('survives clients that drop an upload part-way, leaving nothing behind and logging no error', async () => {
    logged.length = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rawRequest(publishUrl(`2.0.${i}`), { bytes: 2 * 1024 * 1024, abortAfter: (i + 1) * 48 * 1024, headers: headers(), chunkBytes: 16 * 1024 }),
      ),
    );
    expect(results.every((r) => r.status === undefined)).toBe(true); // nobody got an answer: they hung up
    await expect.poll(staged, { timeout: 5_000 }).toEqual([]);
    expect(await alive()).toBe(200);
    expect(logged).toEqual([]); // a client hanging up is nothing to report
    expect(crashes).toEqual([]);
  });

  it('survives clients that hang up mid-body on every route that reads one, logging no error', async () => {
    logged.length = 0;
    const json = { 'Content-Type': 'application/json' };
    const targets: Array<[URL, Record<string, string>]> = [
      [new URL('v1/apps/demo/telemetry', server.url), json],
      [new URL('v1/admin/apps/demo/tokens', server.url), { ...json, Authorization: `Bearer ${server.adminToken}` }],
      [new URL('v1/admin/apps/demo/rollouts', server.url), { ...json, Authorization: `Bearer ${server.adminToken}` }],
      [new URL('v1/admin/apps/demo/models/vad/versions/1.0.0/profile', server.url), { ...json, Authorization: `Bearer ${server.adminToken}` }],
      [publishUrl('4.0.0'), headers()],
    ];
    await Promise.all(
      targets.flatMap(([url, hdrs]) =>
        [true, false].map((declareLength) =>
          rawRequest(url, { method: url.pathname.endsWith('/profile') ? 'PUT' : 'POST', bytes: 40 * 1024, abortAfter: 1000, declareLength, headers: hdrs, chunkBytes: 500 }),
        ),
      ),
    );
    await sleep(500); // the server notices the hang-ups
    expect(await alive()).toBe(200);
    expect(logged).toEqual([]); // a client hanging up is nothing to report
    expect(crashes).toEqual([]);
  });

  it('refuses oversized uploads with 413, declared or chunked, and lives on', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        rawRequest(publishUrl(`3.0.${i}`), { bytes: 6 * 1024 * 1024, declareLength: i % 2 === 0, headers: headers() }),
      ),
    );
    for (const result of results) {
      // The answer comes before the client has sent everything; a client may see the connection
      // closed while it still writes — never a 5xx, never a dead server.
      if (result.status !== undefined) expect(result.status).toBe(413);
    }
    expect(results.some((r) => r.status === 413)).toBe(true);
    await expect.poll(staged, { timeout: 5_000 }).toEqual([]);
    expect(await alive()).toBe(200);
    expect(crashes).toEqual([]);
    expect(logged.filter((line) => /unhandled/i.test(line))).toEqual([]);
  });
});

/** A real disk that fills up: a 16 MiB tmpfs as the artifacts directory (needs root to mount). */
describe('uploads onto a full disk', () => {
  let dir: string;
  let artifacts: string;
  let server: RunningServer | undefined;
  let refused: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-tmpfs-'));
    artifacts = join(dir, 'artifacts');
    await mkdir(artifacts);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', artifacts], { stdio: 'pipe' });
    } catch (error) {
      refused = `mount -t tmpfs was refused (${(error as Error).message.split('\n')[0]}); run as root to test a real full disk`;
      return;
    }
    server = await startServer({ dataDir: dir, port: 0, seed: false, issueAdminTokenFor: 'demo', maxUploadBytes: 64 * 1024 * 1024, log: () => {} });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    if (!refused) execFileSync('umount', [artifacts]);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 507 with Retry-After when the disk fills mid-upload, frees the space, then accepts an upload that fits', async (ctx) => {
    if (refused || !server) return ctx.skip(refused);
    const url = (version: string) => new URL(`v1/admin/apps/demo/models/vad/versions/${version}`, server!.url);
    const headers = { Authorization: `Bearer ${server.adminToken}`, 'Content-Type': 'application/octet-stream' };
    const res = await rawRequest(url('1.0.0'), { bytes: 24 * 1024 * 1024, headers });
    expect(res.status).toBe(507);
    expect(res.headers?.['retry-after']).toMatch(/^\d+$/);
    expect(await readdir(join(artifacts, 'tmp'))).toEqual([]);
    const fits = await fetch(url('1.0.0'), { method: 'POST', body: sileroV5, headers });
    expect(fits.status).toBe(201);
    expect((await fetch(new URL('v1/apps/demo/manifest', server.url))).status).toBe(200);
  });
});
