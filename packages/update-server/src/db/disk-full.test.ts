import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type EdgeloopApp } from '../app.js';
import { fsBlobStore } from '../blobs/fs-blob-store.js';
import { seedIfEmpty } from '../seed.js';
import { deviceReport, lastPeriod, manifestConfig } from '../testing/telemetry-devices.js';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';

/** A real schema-3 device report under the config the demo app's manifest carries. */
async function report(server: EdgeloopApp): Promise<string> {
  const config = manifestConfig(await (await server.app.request('/v1/apps/demo/manifest')).json());
  return JSON.stringify(deviceReport({ config, period: lastPeriod(config, Date.now()), uses: [{ model: 'vad', version: '5.0.0' }] }));
}

/** The embedded database on a real disk that fills up: a 64 MiB tmpfs (needs root to mount). */
describe('the embedded database on a full disk', () => {
  let dir: string;
  let disk: string;
  let db: Database | undefined;
  let server: EdgeloopApp | undefined;
  let refused: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-db-full-'));
    disk = join(dir, 'disk');
    await mkdir(disk);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', disk], { stdio: 'pipe' });
    } catch (error) {
      refused = `mount -t tmpfs was refused (${(error as Error).message.split('\n')[0]}); run as root to test a real full disk`;
      return;
    }
    db = await openPglite(join(disk, 'db'));
    server = createApp({ db, blobs: fsBlobStore(join(disk, 'artifacts')), log: () => {}, telemetry: { rateLimit: false, sourceLimit: false } });
    await server.ready;
    await seedIfEmpty(server.registry, () => {});
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await db?.close();
    if (!refused) execFileSync('umount', [disk]);
    await rm(dir, { recursive: true, force: true });
  });

  it('answers telemetry with 503 and Retry-After while the disk is full, keeps serving manifests, and accepts again once there is space', async (ctx) => {
    if (refused || !server) return ctx.skip(refused);
    const post = async () => server!.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: await report(server!), headers: { 'Content-Type': 'application/json' } });
    expect((await post()).status).toBe(202);
    const { bavail, bsize } = statfsSync(disk);
    const filler = join(disk, 'filler');
    await writeFile(filler, Buffer.alloc(Number(bavail * bsize)));
    let full: Response | undefined;
    for (let i = 0; i < 2000 && !full; i++) {
      const res = await post();
      if (res.status !== 202) full = res;
    }
    expect(full?.status).toBe(503);
    expect(full?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await full!.json()) as { error: { code: string } }).error.code).toBe('unavailable');
    expect((await server.app.request('/v1/apps/demo/manifest')).status).toBe(200);
    await rm(filler);
    await expect.poll(async () => (await post()).status, { timeout: 10_000 }).toBe(202);
  });
});
