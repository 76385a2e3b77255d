import { z } from '@hono/zod-openapi';
import { NAME_PATTERN, NAME_RULE, VERSION_LABEL_PATTERN } from '@edgeloop/protocol';
import { ServerError } from '../../errors.js';

export const errorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) })
  .openapi('Error');

const err = (description: string) => ({ content: { 'application/json': { schema: errorSchema } }, description });

/** The failures every admin route can answer, so the reference lists them once per route. */
export const errorResponses = {
  400: err('Invalid input; the message names the field'),
  401: err('Missing, malformed, unknown, expired or revoked token'),
  403: err('The token lacks the scope this route needs'),
  404: err('Unknown object, or an app the token does not belong to'),
  409: err('Conflicts with the current state'),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({ body: { content: { 'application/json': { schema } }, required: true } });

/** Built from the protocol's patterns with this module's `z`, which carries the `.openapi()` extension. */
export const nameSchema = z.string().regex(NAME_PATTERN, `must be ${NAME_RULE}`);
const versionLabelSchema = z.string().regex(VERSION_LABEL_PATTERN, 'must be 1–64 characters of letters, digits, ".", "+", "_" or "-"');

const param = <T extends z.ZodString>(schema: T, name: string, example: string): T => schema.openapi({ param: { name, in: 'path' }, example });
export const appParams = z.object({ app: param(nameSchema, 'app', 'demo') });
export const modelParams = appParams.extend({ model: param(nameSchema, 'model', 'vad') });
export const versionParams = modelParams.extend({ version: param(versionLabelSchema, 'version', '6.0.0') });
export const channelParams = modelParams.extend({ channel: param(nameSchema, 'channel', 'stable') });
export const idParams = appParams.extend({ id: param(z.string().regex(/^[a-z]+_[0-9a-f]{12}$/, 'must be an id such as ro_0123456789ab'), 'id', 'ro_0123456789ab') });

export const security = [{ bearer: [] as string[] }];

/** Loose response schema for records documented in docs/server.md rather than field by field here. */
export const recordSchema = z.record(z.string(), z.unknown());

/** zod-openapi's validation hook: one 400 whose message names the field and its location. */
export function validationHook(result: { success: boolean; target: string; error?: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } }): void {
  if (result.success || !result.error) return;
  const where = result.target === 'param' ? 'path parameter' : result.target === 'json' ? 'body field' : `${result.target} field`;
  const issues = result.error.issues.map((issue) => ({ field: issue.path.map(String).join('.') || '(root)', message: issue.message }));
  const text = issues.map((issue) => `${where} "${issue.field}": ${issue.message}`).join('; ');
  throw new ServerError('bad_request', text, issues);
}
