import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import type { RolloutAction, RolloutService } from '../../rollouts/rollout-service.js';
import { channelSchema, pinSchema, rolloutSchema, setChannelSchema, startRolloutSchema } from '../../rollouts/schemas.js';
import { appParams, channelParams, errorResponses, idParams, json, jsonBody, security } from './common.js';

const listChannels = createRoute({
  method: 'get', path: '/apps/{app}/channels', summary: 'Channels of every model', security,
  middleware: [requireScope('read')] as const, request: { params: appParams },
  responses: { 200: json(z.object({ channels: z.array(channelSchema) }), 'Channels'), ...errorResponses },
});
const setChannel = createRoute({
  method: 'put', path: '/apps/{app}/models/{model}/channels/{channel}', summary: 'Point a channel at a version (and set its variant rules)', security,
  middleware: [requireScope('rollout')] as const, request: { params: channelParams, ...jsonBody(setChannelSchema) },
  responses: { 200: json(channelSchema, 'The channel'), ...errorResponses },
});
const pin = createRoute({
  method: 'post', path: '/apps/{app}/models/{model}/channels/{channel}/pin', summary: 'Kill switch: everyone on one version now', security,
  middleware: [requireScope('rollout')] as const, request: { params: channelParams, ...jsonBody(pinSchema) },
  responses: { 200: json(channelSchema, 'The pinned channel'), ...errorResponses },
});
const unpin = createRoute({
  method: 'delete', path: '/apps/{app}/models/{model}/channels/{channel}/pin', summary: 'Release the pin', security,
  middleware: [requireScope('rollout')] as const, request: { params: channelParams },
  responses: { 200: json(channelSchema, 'The channel'), ...errorResponses },
});
const listRollouts = createRoute({
  method: 'get', path: '/apps/{app}/rollouts', summary: 'Rollouts, newest first', security,
  middleware: [requireScope('read')] as const, request: { params: appParams },
  responses: { 200: json(z.object({ rollouts: z.array(rolloutSchema) }), 'Rollouts'), ...errorResponses },
});
const startRollout = createRoute({
  method: 'post', path: '/apps/{app}/rollouts', summary: 'Start moving a channel from its version to another through steps', security,
  middleware: [requireScope('rollout')] as const, request: { params: appParams, ...jsonBody(startRolloutSchema) },
  responses: { 201: json(rolloutSchema, 'The rollout'), ...errorResponses },
});
const getRollout = createRoute({
  method: 'get', path: '/apps/{app}/rollouts/{id}', summary: 'One rollout', security,
  middleware: [requireScope('read')] as const, request: { params: idParams },
  responses: { 200: json(rolloutSchema, 'The rollout'), ...errorResponses },
});

const decisionSchema = z.object({
  rolloutId: z.string(),
  windowEnd: z.string().openapi({ description: 'End of the closed telemetry window the decision was taken at' }),
  stepIndex: z.number(),
  outcome: z.enum(['promote', 'hold', 'pause', 'rollback']),
  rule: z.string().openapi({ description: 'The rule that fired: insufficient_reports, sample_ratio, regression, non_inferior, min_hold, inconclusive, max_duration' }),
  reason: z.string().openapi({ description: 'The decision in words' }),
  applied: z.boolean().openapi({ description: 'Whether the gate acted on it (false for a hold, or when a person changed the rollout first)' }),
  decidedAt: z.string(),
  comparisons: z.array(z.record(z.string(), z.unknown())).openapi({
    description: 'Per metric (over all backends, or on one backend): each arm’s estimate and reports, candidate − control with its always-valid interval, the tolerance and the step’s margin, the statistic, the verdict',
  }),
  sampleRatio: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'The candidate’s share of the step’s reports against the step’s percentage' }),
  reports: z.object({ candidate: z.number().optional(), control: z.number().optional() }).openapi({ description: 'Reports per arm, shown only at or above the floor' }),
});
const listDecisions = createRoute({
  method: 'get', path: '/apps/{app}/rollouts/{id}/decisions', summary: 'The rollout gate’s decisions, newest first, with their inputs', security,
  middleware: [requireScope('read')] as const,
  request: { params: idParams, query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }) },
  responses: { 200: json(z.object({ decisions: z.array(decisionSchema) }), 'Decisions'), ...errorResponses },
});

const ACTIONS: RolloutAction[] = ['advance', 'pause', 'resume', 'abort', 'rollback'];
const actionRoute = (action: RolloutAction) =>
  createRoute({
    method: 'post', path: `/apps/{app}/rollouts/{id}/${action}`, summary: `${action[0]!.toUpperCase()}${action.slice(1)} a rollout`, security,
    middleware: [requireScope('rollout')] as const, request: { params: idParams },
    responses: { 200: json(rolloutSchema, 'The rollout after the change'), ...errorResponses },
  });

export function rolloutRoutes(api: OpenAPIHono<AuthEnv>, rollouts: RolloutService): void {
  const who = (c: { get(key: 'token'): { id: string }; get(key: 'requestId'): string }) => ({ actor: c.get('token').id, requestId: c.get('requestId') });

  api.openapi(listChannels, async (c) => c.json({ channels: await rollouts.listChannels(c.req.valid('param').app) }, 200));
  api.openapi(setChannel, async (c) => {
    const { app, model, channel } = c.req.valid('param');
    return c.json(await rollouts.setChannel(app, model, channel, c.req.valid('json'), who(c)), 200);
  });
  api.openapi(pin, async (c) => {
    const { app, model, channel } = c.req.valid('param');
    return c.json(await rollouts.pin(app, model, channel, c.req.valid('json').version, who(c)), 200);
  });
  api.openapi(unpin, async (c) => {
    const { app, model, channel } = c.req.valid('param');
    return c.json(await rollouts.unpin(app, model, channel, who(c)), 200);
  });
  api.openapi(listRollouts, async (c) => c.json({ rollouts: await rollouts.list(c.req.valid('param').app) }, 200));
  api.openapi(startRollout, async (c) => c.json(await rollouts.start(c.req.valid('param').app, c.req.valid('json'), who(c)), 201));
  api.openapi(getRollout, async (c) => {
    const { app, id } = c.req.valid('param');
    return c.json(await rollouts.get(app, id), 200);
  });
  api.openapi(listDecisions, async (c) => {
    const { app, id } = c.req.valid('param');
    const decisions = await rollouts.decisions(app, id, c.req.valid('query').limit);
    return c.json({ decisions: decisions as unknown as Array<z.infer<typeof decisionSchema>> }, 200);
  });
  for (const action of ACTIONS) {
    api.openapi(actionRoute(action), async (c) => {
      const { app, id } = c.req.valid('param');
      return c.json(await rollouts.act(app, id, action, who(c)), 200);
    });
  }
}
