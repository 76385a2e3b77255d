import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { readAudit } from '../../audit/audit-log.js';
import { recordAudit } from '../../audit/audit-log.js';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import { scopeSchema } from '../../auth/scopes.js';
import type { TokenStore } from '../../auth/tokens.js';
import type { BlobStore } from '../../blobs/blob-store.js';
import type { Database } from '../../db/database.js';
import { collectGarbage } from '../../registry/gc.js';
import { appParams, errorResponses, idParams, json, jsonBody, recordSchema, security } from './common.js';

const createTokenSchema = z.strictObject({
  name: z.string().min(1).max(100),
  scopes: z.array(scopeSchema).min(1).max(4),
  expiresInDays: z.number().int().min(1).max(3650).optional(),
});

const tokenInfoSchema = z.object({
  id: z.string(), app: z.string(), name: z.string(), scopes: z.array(scopeSchema), createdBy: z.string(),
  createdAt: z.string(), expiresAt: z.string().nullable(), revokedAt: z.string().nullable(), lastUsedAt: z.string().nullable(),
});

const createToken = createRoute({
  method: 'post', path: '/apps/{app}/tokens', summary: 'Create a token (the secret is in this response only)', security,
  middleware: [requireScope('admin')] as const, request: { params: appParams, ...jsonBody(createTokenSchema) },
  responses: { 201: json(tokenInfoSchema.extend({ token: z.string() }), 'The token and its secret'), ...errorResponses },
});
const listTokens = createRoute({
  method: 'get', path: '/apps/{app}/tokens', summary: 'Tokens of the app (never their secrets)', security,
  middleware: [requireScope('admin')] as const, request: { params: appParams },
  responses: { 200: json(z.object({ tokens: z.array(tokenInfoSchema) }), 'Tokens'), ...errorResponses },
});
const revokeToken = createRoute({
  method: 'delete', path: '/apps/{app}/tokens/{id}', summary: 'Revoke a token', security,
  middleware: [requireScope('admin')] as const, request: { params: idParams },
  responses: { 200: json(tokenInfoSchema, 'The revoked token'), ...errorResponses },
});
const audit = createRoute({
  method: 'get', path: '/apps/{app}/audit', summary: 'The append-only audit log, newest first', security,
  middleware: [requireScope('admin')] as const,
  request: {
    params: appParams,
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(500).default(100), before: z.coerce.number().int().min(1).optional() }),
  },
  responses: { 200: json(z.object({ entries: z.array(recordSchema) }), 'Entries'), ...errorResponses },
});
const gc = createRoute({
  method: 'post', path: '/apps/{app}/gc', summary: 'Delete artifacts no version references (older than an hour)', security,
  middleware: [requireScope('admin')] as const, request: { params: appParams },
  responses: { 200: json(z.object({ deleted: z.array(z.string()), bytesFreed: z.number() }), 'What was deleted'), ...errorResponses },
});

export function tokenRoutes(api: OpenAPIHono<AuthEnv>, deps: { tokens: TokenStore; db: Database; blobs: BlobStore; gcGraceMs: number }): void {
  const { tokens, db } = deps;
  api.openapi(createToken, async (c) => {
    const { app } = c.req.valid('param');
    const body = c.req.valid('json');
    const actor = c.get('token').id;
    const created = await db.transaction(async (tx) => {
      const result = await tokens.create(tx, {
        app, name: body.name, scopes: body.scopes, createdBy: actor,
        expiresAt: body.expiresInDays === undefined ? null : new Date(Date.now() + body.expiresInDays * 86_400_000),
      });
      await recordAudit(tx, { app, actor, action: 'token.create', target: result.info.id, after: result.info, requestId: c.get('requestId') });
      return result;
    });
    return c.json({ ...created.info, token: created.token }, 201);
  });
  api.openapi(listTokens, async (c) => c.json({ tokens: await tokens.list(c.req.valid('param').app) }, 200));
  api.openapi(revokeToken, async (c) => {
    const { app, id } = c.req.valid('param');
    const actor = c.get('token').id;
    const revoked = await db.transaction(async (tx) => {
      const before = await tokens.get(tx, app, id);
      const after = await tokens.revoke(tx, app, id);
      if (!before.revokedAt) await recordAudit(tx, { app, actor, action: 'token.revoke', target: id, before, after, requestId: c.get('requestId') });
      return after;
    });
    return c.json(revoked, 200);
  });
  api.openapi(audit, async (c) => {
    const { app } = c.req.valid('param');
    const { limit, before } = c.req.valid('query');
    return c.json({ entries: await readAudit(db, app, { limit, ...(before !== undefined && { before }) }) }, 200);
  });
  api.openapi(gc, async (c) => {
    const { app } = c.req.valid('param');
    const result = await collectGarbage(db, deps.blobs, { graceMs: deps.gcGraceMs });
    if (result.deleted.length > 0) {
      await db.transaction((tx) => recordAudit(tx, { app, actor: c.get('token').id, action: 'artifacts.gc', target: 'blobs', after: result, requestId: c.get('requestId') }));
    }
    return c.json(result, 200);
  });
}
