import type { Context, MiddlewareHandler } from 'hono';
import { isName, NAME_RULE } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';
import { grants, type Scope } from './scopes.js';
import type { TokenInfo, TokenStore } from './tokens.js';

export type AuthEnv = { Variables: { token: TokenInfo; requestId: string } };

/** Reads `Authorization: Bearer elk_…`; 401 naming what is wrong, before anything else runs. */
export function bearerAuth(tokens: TokenStore): MiddlewareHandler<AuthEnv> {
  return async function authenticate(c, next) {
    const header = c.req.header('authorization');
    if (!header) throw new ServerError('unauthorized', 'missing Authorization header: send "Authorization: Bearer elk_…" (create a token with "edgeloop token create")');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ServerError('unauthorized', 'the Authorization header must be "Bearer <token>"');
    c.set('token', await tokens.verify(match[1]!));
    await next();
  };
}

/**
 * Route middleware: the token must belong to the app in the path (404 otherwise, so a token never
 * learns whether another app exists) and hold `scope` (403). Runs before body validation.
 */
export function requireScope(scope: Scope): MiddlewareHandler<AuthEnv> {
  return async function authorize(c, next) {
    appFor(c, scope);
    await next();
  };
}

export function appFor(c: Context<AuthEnv>, scope: Scope): string {
  const app = c.req.param('app');
  if (app === undefined || !isName(app)) {
    throw new ServerError('bad_request', `path parameter "app" must be ${NAME_RULE}; got ${JSON.stringify(app)}`);
  }
  const token = c.get('token');
  if (token.app !== app) throw new ServerError('not_found', `unknown app "${app}"`);
  if (!grants(token.scopes, scope)) {
    throw new ServerError('forbidden', `token ${token.id} has scopes [${token.scopes.join(', ')}]; this needs "${scope}"`);
  }
  return app;
}
