import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { storageContract } from './storage-contract.js';

storageContract('PGlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-pglite-'));
  let db = await openPglite(join(dir, 'db'));
  // The suite keeps one handle; it follows the reopened database.
  const handle: Database = {
    query: (text, params) => db.query(text, params),
    transaction: (fn) => db.transaction(fn),
    listen: (channel, fn) => db.listen(channel, fn),
    close: () => db.close(),
  };
  return {
    db: handle,
    // PGlite holds its directory exclusively: reopening means closing first.
    reopen: async () => {
      await db.close();
      db = await openPglite(join(dir, 'db'));
      return { ...db, close: async () => undefined };
    },
    dispose: async () => {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
