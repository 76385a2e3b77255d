import { recordAudit } from '../audit/audit-log.js';
import type { Database } from '../db/database.js';
import type { Scope } from './scopes.js';
import { TokenStore, type TokenInfo } from './tokens.js';

/**
 * Creates a token straight in the database, for the first admin token of an app (the API needs a
 * token to create tokens) and for tests. Audited like any other token creation.
 */
export async function bootstrapToken(
  db: Database,
  input: { app: string; name?: string; scopes?: Scope[]; expiresAt?: Date | null; actor?: string },
): Promise<{ token: string; info: TokenInfo }> {
  const tokens = new TokenStore(db);
  return db.transaction(async (tx) => {
    const created = await tokens.create(tx, {
      app: input.app,
      name: input.name ?? 'bootstrap admin',
      scopes: input.scopes ?? ['admin'],
      createdBy: input.actor ?? 'bootstrap',
      expiresAt: input.expiresAt ?? null,
    });
    await recordAudit(tx, { app: input.app, actor: input.actor ?? 'bootstrap', action: 'token.create', target: created.info.id, after: created.info });
    return created;
  });
}
