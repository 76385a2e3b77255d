import fs from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openPglite } from './pglite.js';
import { templateMismatch } from './pglite-template.js';

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-pglite-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('the embedded database', () => {
  it('ships a data-directory template made by the installed PGlite', () => {
    // Fails after a PGlite upgrade until `npm run make:pglite-template` is run (new data
    // directories would otherwise run initdb: seconds slower and hundreds of MiB bigger).
    expect(templateMismatch()).toBeNull();
  });

  it('flushes every commit to the disk, and a new directory keeps what was committed', async () => {
    const dir = join(await tempDir(), 'db');
    const db = await openPglite(dir);
    try {
      expect(await db.query('show fsync')).toEqual([{ fsync: 'on' }]);
      const fsyncs = vi.spyOn(fs, 'fsyncSync');
      await db.query("insert into apps (name) values ('durable')");
      // Without a real fsync() a commit the server answered for is lost to an OS crash.
      expect(fsyncs.mock.calls.length).toBeGreaterThanOrEqual(1);
      fsyncs.mockClear();
      await db.transaction(async (tx) => {
        await tx.query("insert into apps (name) values ('durable-2')");
        await tx.query("insert into apps (name) values ('durable-3')");
      });
      expect(fsyncs.mock.calls.length).toBeGreaterThanOrEqual(1);
      fsyncs.mockRestore();
    } finally {
      await db.close();
    }
    const again = await openPglite(dir);
    try {
      expect(await again.query("select name from apps where name like 'durable%' order by name")).toHaveLength(3);
    } finally {
      await again.close();
    }
    // Unpacked beside the directory and renamed into place: nothing is left next to it.
    expect((await readdir(join(dir, '..'))).filter((name) => name !== 'db')).toEqual([]);
  });

  it('opens in memory for tests, with the schema in place', async () => {
    const db = await openPglite();
    try {
      expect(await db.query("select count(*)::int as n from schema_migrations")).toEqual([{ n: expect.any(Number) }]);
    } finally {
      await db.close();
    }
  });
});
