import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from './database.js';
import { migrations } from './migrations.js';

/**
 * What the server needs from any database: one suite, run against PGlite and PostgreSQL
 * (storage-contract.*.test.ts), so the two can never drift apart.
 */
export function storageContract(name: string, open: () => Promise<{ db: Database; reopen: () => Promise<Database>; dispose: () => Promise<void> }>): void {
  describe(`storage contract: ${name}`, () => {
    let db: Database;
    let reopen: () => Promise<Database>;
    let dispose: () => Promise<void>;
    beforeAll(async () => {
      ({ db, reopen, dispose } = await open());
    }, 60_000);
    afterAll(() => dispose());

    it('applies every migration exactly once, also when opened again', async () => {
      const again = await reopen();
      await again.close();
      const rows = await db.query<{ id: number }>('select id from schema_migrations order by id');
      expect(rows.map((r) => Number(r.id))).toEqual(migrations.map((m) => m.id));
    });

    it('commits a transaction that resolves and rolls back one that throws', async () => {
      await db.transaction((tx) => tx.query("insert into apps (name) values ('committed')"));
      await expect(
        db.transaction(async (tx) => {
          await tx.query("insert into apps (name) values ('rolled-back')");
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      const names = (await db.query<{ name: string }>("select name from apps where name in ('committed', 'rolled-back')")).map((r) => r.name);
      expect(names).toEqual(['committed']);
    });

    it('round-trips jsonb, text[], bigint, timestamptz and null', async () => {
      const [row] = await db.query<{ j: unknown; a: string[]; b: unknown; t: Date; n: null }>(
        "select $1::jsonb as j, $2::text[] as a, 9007199254740991::bigint as b, '2024-01-02T03:04:05Z'::timestamptz as t, null as n",
        [JSON.stringify({ x: [1, 'two'] }), ['read', 'publish']],
      );
      expect(row!.j).toEqual({ x: [1, 'two'] });
      expect(row!.a).toEqual(['read', 'publish']);
      expect(Number(row!.b)).toBe(Number.MAX_SAFE_INTEGER);
      expect(row!.t).toBeInstanceOf(Date);
      expect(row!.t.toISOString()).toBe('2024-01-02T03:04:05.000Z');
      expect(row!.n).toBeNull();
    });

    it('delivers notifications after commit and never for a rolled-back transaction', async () => {
      const got: string[] = [];
      const stop = await db.listen('contract_test', (payload) => got.push(payload));
      await expect(
        db.transaction(async (tx) => {
          await tx.query("select pg_notify('contract_test', 'lost')");
          throw new Error('rollback');
        }),
      ).rejects.toThrow();
      await db.transaction((tx) => tx.query("select pg_notify('contract_test', 'kept')"));
      const deadline = Date.now() + 2000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual(['kept']);
      await stop();
    });

    it('refuses to rewrite the audit log', async () => {
      await db.query("insert into audit_log (app, actor, action, target) values ('committed', 'a', 'b', 'c')");
      await expect(db.query("update audit_log set actor = 'x'")).rejects.toThrow(/append-only/);
      await expect(db.query('delete from audit_log')).rejects.toThrow(/append-only/);
      await expect(db.query('truncate audit_log')).rejects.toThrow(/append-only/);
      expect(await db.query("select 1 from audit_log where app = 'committed'")).toHaveLength(1);
    });

    it('allows one active rollout per channel', async () => {
      await db.query("insert into models (app, name) values ('committed', 'm')");
      await db.query("insert into model_versions (app, model, version, seq, format, sha256, size, signature) values ('committed', 'm', '1', 1, 'onnx', 'x', 1, '{}')");
      await db.query("insert into channels (app, model, name, version) values ('committed', 'm', 'stable', '1')");
      const insert = (id: string) =>
        db.query(`insert into rollouts (id, app, model, channel, from_version, to_version, salt, steps, step_index, percentage, state)
                  values ($1, 'committed', 'm', 'stable', '1', '1', 's', '[]', 0, 1, 'running')`, [id]);
      await insert('ro_1');
      await expect(insert('ro_2')).rejects.toThrow();
    });
  });
}
