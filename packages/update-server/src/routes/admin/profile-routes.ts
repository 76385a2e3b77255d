import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { ReferenceProfile, TelemetryError } from '@edgeloop/telemetry';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import { ServerError } from '../../errors.js';
import { profileRef, versionKey, type ProfileStore } from '../../profiles/profile-store.js';
import { errorResponses, json, jsonBody, security, versionParams } from './common.js';

const numericSamples = z.object({ name: z.string().min(1).max(128), role: z.enum(['input', 'output']).optional(), values: z.array(z.number()).min(1).max(1_000_000) });
const categoricalSamples = z.object({
  name: z.string().min(1).max(128),
  role: z.enum(['input', 'output']).optional(),
  values: z.array(z.string().max(256)).min(1).max(1_000_000),
  maxVocabulary: z.number().int().min(1).max(1024).optional(),
});
const profileBody = z
  .union([
    z.object({ profile: z.record(z.string(), z.unknown()).openapi({ description: 'A ReferenceProfileJSON (docs/telemetry.md)' }) }),
    z.object({
      samples: z.object({
        id: z.string().min(1).max(256).optional(),
        bins: z.number().int().min(2).max(256).optional(),
        tails: z.union([z.number().gt(0).lt(0.5), z.literal(false)]).optional(),
        numeric: z.array(numericSamples).max(1024).optional(),
        categorical: z.array(categoricalSamples).max(1024).optional(),
      }),
    }),
  ])
  .openapi('ReferenceProfileUpload');

const storedProfileSchema = z
  .object({
    app: z.string(),
    model: z.string(),
    version: z.string(),
    profile: z.object({ id: z.string(), sha256: z.string(), length: z.number().int(), url: z.string() }).openapi({ description: 'As the signed manifest lists it on the release this version serves' }),
    inheritedFrom: z.string().nullable().openapi({ description: 'The earlier version whose profile this one uses, when it has none of its own' }),
  })
  .openapi('StoredReferenceProfile');

const putProfile = createRoute({
  method: 'put', path: '/apps/{app}/models/{model}/versions/{version}/profile', security,
  summary: 'Upload the reference profile of a version (or reference samples to compute it from); it is signed into the manifest',
  middleware: [requireScope('publish')] as const, request: { params: versionParams, ...jsonBody(profileBody) },
  responses: { 200: json(storedProfileSchema, 'The stored profile, as the manifest now lists it'), ...errorResponses },
});
const getProfile = createRoute({
  method: 'get', path: '/apps/{app}/models/{model}/versions/{version}/profile', security,
  summary: 'The reference profile a version records against (own or inherited)',
  middleware: [requireScope('read')] as const, request: { params: versionParams },
  responses: { 200: json(storedProfileSchema, 'The profile'), ...errorResponses },
});

/** Reference profiles: stored content-addressed, listed with their hash in the signed manifest. */
export function profileRoutes(api: OpenAPIHono<AuthEnv>, deps: { profiles: ProfileStore }): void {
  api.openapi(putProfile, async (c) => {
    const { app, model, version } = c.req.valid('param');
    const body = c.req.valid('json');
    let profile: ReferenceProfile;
    try {
      profile =
        'profile' in body
          ? ReferenceProfile.fromJSON(body.profile)
          : ReferenceProfile.fromSamples({ ...body.samples, id: body.samples.id ?? `${model}@${version}/${Date.now().toString(36)}` });
    } catch (error) {
      if (!(error instanceof TelemetryError)) throw error;
      throw new ServerError('bad_request', error.message, error.details);
    }
    const stored = await deps.profiles.put({ app, model, version }, profile, { actor: c.get('token').id, requestId: c.get('requestId') });
    return c.json({ app, model, version, profile: profileRef(stored), inheritedFrom: null }, 200);
  });

  api.openapi(getProfile, async (c) => {
    const { app, model, version } = c.req.valid('param');
    const resolved = (await deps.profiles.resolve(app)).get(versionKey(model, version));
    if (!resolved) {
      throw new ServerError('not_found', `${model}@${version} of app "${app}" has no reference profile, nor an earlier version it could inherit one from; upload one with PUT on this path`);
    }
    return c.json({ app, model, version, profile: profileRef(resolved), inheritedFrom: resolved.owner === version ? null : resolved.owner }, 200);
  });
}
