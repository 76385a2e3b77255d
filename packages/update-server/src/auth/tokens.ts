import { randomBytes } from 'node:crypto';
import type { Database, Sql } from '../db/database.js';
import { ServerError } from '../errors.js';
import type { Scope } from './scopes.js';
import { hashToken, looksLikeToken, newToken } from './token-format.js';

export interface TokenInfo {
  id: string;
  app: string;
  name: string;
  scopes: Scope[];
  createdBy: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface TokenRow {
  id: string;
  app: string;
  name: string;
  scopes: Scope[];
  created_by: string;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toInfo = (row: TokenRow): TokenInfo => ({
  id: row.id,
  app: row.app,
  name: row.name,
  scopes: row.scopes,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
  expiresAt: iso(row.expires_at),
  revokedAt: iso(row.revoked_at),
  lastUsedAt: iso(row.last_used_at),
});

/** Bearer tokens, one app each. The secret is returned once by `create` and never stored. */
export class TokenStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async create(
    tx: Sql,
    input: { app: string; name: string; scopes: Scope[]; createdBy: string; expiresAt: Date | null },
  ): Promise<{ token: string; info: TokenInfo }> {
    const token = newToken();
    const [row] = await tx.query<TokenRow>(
      `insert into tokens (id, app, name, scopes, token_hash, created_by, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7) returning *`,
      [`tok_${randomBytes(6).toString('hex')}`, input.app, input.name, input.scopes, hashToken(token), input.createdBy, input.expiresAt],
    );
    return { token, info: toInfo(row!) };
  }

  /** The token's identity, or 401 naming why; records the last use at most once a minute. */
  async verify(token: string, now = new Date()): Promise<TokenInfo> {
    if (!looksLikeToken(token)) {
      throw new ServerError('unauthorized', 'the bearer token is malformed: edgeloop tokens look like "elk_" followed by 43 characters');
    }
    const [row] = await this.#db.query<TokenRow>('select * from tokens where token_hash = $1', [hashToken(token)]);
    if (!row) throw new ServerError('unauthorized', 'unknown bearer token; create one with "edgeloop token create"');
    if (row.revoked_at) throw new ServerError('unauthorized', `token ${row.id} was revoked; create a new one`);
    if (row.expires_at && row.expires_at <= now) throw new ServerError('unauthorized', `token ${row.id} expired at ${row.expires_at.toISOString()}; create a new one`);
    await this.#db.query(
      `update tokens set last_used_at = $2 where id = $1 and (last_used_at is null or last_used_at < $2::timestamptz - interval '1 minute')`,
      [row.id, now],
    );
    return toInfo(row);
  }

  async list(app: string): Promise<TokenInfo[]> {
    return (await this.#db.query<TokenRow>('select * from tokens where app = $1 order by created_at, id', [app])).map(toInfo);
  }

  async get(tx: Sql, app: string, id: string): Promise<TokenInfo> {
    const [row] = await tx.query<TokenRow>('select * from tokens where app = $1 and id = $2', [app, id]);
    if (!row) throw new ServerError('not_found', `app "${app}" has no token "${id}"`);
    return toInfo(row);
  }

  async revoke(tx: Sql, app: string, id: string): Promise<TokenInfo> {
    const [row] = await tx.query<TokenRow>(
      'update tokens set revoked_at = coalesce(revoked_at, now()) where app = $1 and id = $2 returning *',
      [app, id],
    );
    if (!row) throw new ServerError('not_found', `app "${app}" has no token "${id}"`);
    return toInfo(row);
  }
}
