import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { goldenSignatureProblems, healthPolicySchema, parseGolden, ProtocolError, type HealthPolicy } from '@edgeloop/protocol';
import { z } from 'zod';
import { inspectOnnx } from '../registry/onnx.js';
import { adminClient, CliError, EXIT } from './client.js';
import { describeDecision, noDecision, type DecisionView } from './gate-decision.js';

export interface Io {
  out: (line: string) => void;
  env: Record<string, string | undefined>;
  fetch?: typeof fetch;
}

type Flags = Record<string, string | boolean | undefined>;

const need = (flags: Flags, name: string): string => {
  const value = flags[name];
  if (typeof value !== 'string' || value === '') throw new CliError(`missing --${name}`, EXIT.usage);
  return value;
};

function client(flags: Flags, io: Io) {
  const server = (flags.server as string | undefined) ?? io.env.EDGELOOP_SERVER ?? 'http://127.0.0.1:8787/';
  const token = (flags.token as string | undefined) ?? io.env.EDGELOOP_TOKEN;
  return adminClient({ server, token, ...(io.fetch && { fetch: io.fetch }) });
}

interface TokenView {
  id: string;
  name: string;
  scopes: string[];
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  token?: string;
}

export async function tokenCommand(sub: string | undefined, positionals: string[], flags: Flags, io: Io): Promise<number> {
  const app = need(flags, 'app');
  const api = client(flags, io);
  if (sub === 'create') {
    const scopes = ((flags.scopes as string | undefined) ?? 'read').split(',').map((s) => s.trim());
    const days = flags['expires-in-days'] === undefined ? undefined : Number(flags['expires-in-days']);
    const created = await api<TokenView>('POST', `apps/${app}/tokens`, { json: { name: (flags.name as string | undefined) ?? 'cli', scopes, ...(days !== undefined && { expiresInDays: days }) } });
    io.out(`created ${created.id} (${created.scopes.join(', ')}) for app ${app}${created.expiresAt ? `, expires ${created.expiresAt}` : ''}`);
    io.out(`token (shown once, store it now): ${created.token}`);
    return EXIT.ok;
  }
  if (sub === 'list') {
    const { tokens } = await api<{ tokens: TokenView[] }>('GET', `apps/${app}/tokens`);
    for (const t of tokens) {
      const status = t.revokedAt ? 'revoked' : t.expiresAt && Date.parse(t.expiresAt) < Date.now() ? 'expired' : 'active';
      io.out(`${t.id}  ${status.padEnd(7)}  ${t.scopes.join(',').padEnd(22)}  last used ${t.lastUsedAt ?? 'never'}  ${t.name}`);
    }
    return EXIT.ok;
  }
  if (sub === 'revoke') {
    const id = positionals[0];
    if (!id) throw new CliError('usage: edgeloop token revoke --app APP TOKEN_ID', EXIT.usage);
    const revoked = await api<TokenView>('DELETE', `apps/${app}/tokens/${encodeURIComponent(id)}`);
    io.out(`revoked ${revoked.id} at ${revoked.revokedAt}`);
    return EXIT.ok;
  }
  throw new CliError('usage: edgeloop token create|list|revoke|bootstrap --app APP', EXIT.usage);
}

/** `--health JSON`: the policy, checked here so a typo fails before anything is uploaded. */
function parseHealthFlag(text: string): HealthPolicy {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`--health must be JSON such as '{"inferences":100,"p95Ratio":2,"golden":{"maxAbs":0.001}}'; got ${text}`, EXIT.usage);
  }
  const parsed = z.strictObject(healthPolicySchema.shape).safeParse(json);
  if (!parsed.success) throw new CliError(`--health: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`, EXIT.usage);
  return parsed.data;
}

/**
 * `--golden DIR`: every `*.json` in DIR, read and checked before anything is uploaded (and against
 * the model's signature when the model is ONNX), so a bad golden file publishes nothing.
 */
async function readGoldenDir(dir: string, modelFile: string, format: string): Promise<Array<{ name: string; bytes: Uint8Array }>> {
  const names = (await readdir(dir).catch(() => null))?.filter((name) => name.endsWith('.json')).sort();
  if (!names) throw new CliError(`--golden: no directory at ${dir}`, EXIT.usage);
  if (names.length === 0) throw new CliError(`--golden: ${dir} holds no *.json golden files (write them with "edgeloop gate --golden N")`, EXIT.usage);
  const signature = format === 'onnx' ? inspectOnnx(new Uint8Array(await readFile(modelFile))).signature : null;
  const files = [];
  for (const name of names) {
    const bytes = new Uint8Array(await readFile(join(dir, name)));
    try {
      const parsed = parseGolden(bytes);
      const problems = signature ? goldenSignatureProblems(parsed, signature) : [];
      if (problems.length > 0) throw new CliError(`${join(dir, name)} does not fit the model's signature: ${problems.join('; ')}`, EXIT.usage);
    } catch (error) {
      if (error instanceof ProtocolError) throw new CliError(`${join(dir, name)}: ${error.message}`, EXIT.usage);
      throw error;
    }
    files.push({ name, bytes });
  }
  return files;
}

export async function publishCommand(positionals: string[], flags: Flags, io: Io): Promise<number> {
  const file = positionals[0];
  if (!file) throw new CliError('usage: edgeloop publish FILE --app APP --model MODEL --version LABEL [--golden DIR] [--health JSON]', EXIT.usage);
  const [app, model, version] = [need(flags, 'app'), need(flags, 'model'), need(flags, 'version')];
  const size = (await stat(file).catch(() => null))?.size;
  if (size === undefined) throw new CliError(`no file at ${file}`, EXIT.usage);
  const health = typeof flags.health === 'string' ? parseHealthFlag(flags.health) : undefined;
  const golden = typeof flags.golden === 'string' ? await readGoldenDir(flags.golden, file, (flags.format as string | undefined) ?? 'onnx') : [];
  const query = new URLSearchParams();
  for (const name of ['notes', 'channel', 'backend', 'precision', 'format']) if (typeof flags[name] === 'string') query.set(name, flags[name] as string);
  const variant = flags.variant as string | undefined;
  const path = variant
    ? `apps/${app}/models/${model}/versions/${version}/variants/${variant}/files/${(flags.role as string | undefined) ?? 'model'}`
    : `apps/${app}/models/${model}/versions/${version}`;
  const body = Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>;
  const headers: Record<string, string> = { 'Content-Type': 'application/octet-stream', 'Content-Length': String(size) };
  if (typeof flags['idempotency-key'] === 'string') headers['Idempotency-Key'] = flags['idempotency-key'];
  const api = client(flags, io);
  const record = await api<{ version: string; seq: number; sha256: string; size: number }>('POST', `${path}?${query}`, { body, headers });
  io.out(`published ${app}/${model}@${record.version} (seq ${record.seq}${variant ? `, variant ${variant}` : ''}): ${size} bytes`);
  for (const { name, bytes } of golden) {
    await api('POST', `apps/${app}/models/${model}/versions/${version}/variants/${variant ?? 'default'}/files/golden`, {
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    io.out(`added golden file ${name} (${bytes.byteLength} bytes)`);
  }
  if (health) {
    await api('PUT', `apps/${app}/models/${model}/versions/${version}/health`, { json: health });
    io.out(`set the health policy of ${model}@${version}: ${JSON.stringify(health)}`);
  }
  return EXIT.ok;
}

/** `edgeloop health --app A --model M --version V [JSON]`: sets the version's health policy (`{}`: the defaults) or shows it. */
export async function healthCommand(flags: Flags, io: Io, policy: string | undefined): Promise<number> {
  const [app, model, version] = [need(flags, 'app'), need(flags, 'model'), need(flags, 'version')];
  const api = client(flags, io);
  const path = `apps/${app}/models/${model}/versions/${version}`;
  const record = policy === undefined ? await api<{ health: HealthPolicy | null }>('GET', path) : await api<{ health: HealthPolicy | null }>('PUT', `${path}/health`, { json: parseHealthFlag(policy) });
  io.out(`${model}@${version} health policy: ${record.health === null ? 'the defaults (inferences 50, p95Ratio 1.5, errorRateDelta 0.02, golden cosine ≥ 0.99)' : JSON.stringify(record.health)}`);
  return EXIT.ok;
}

interface RolloutView {
  id: string;
  model: string;
  channel: string;
  fromVersion: string;
  toVersion: string;
  state: string;
  percentage: number;
  stepIndex: number;
  steps: Array<{ percentage: number }>;
  nextStepAt: string | null;
  /** The gate policy; null when the rollout has no gate. */
  gate: Record<string, unknown> | null;
}

/** `--gate off` (no gate), `--gate '{"alpha":0.01}'` (a policy; the server validates it), or absent (the default policy). */
function parseGateFlag(value: string | undefined): Record<string, unknown> | false | undefined {
  if (value === undefined) return undefined;
  if (value === 'off') return false;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new CliError(`--gate must be "off" or a JSON gate policy such as '{"alpha":0.01,"minHoldWindows":2}', got ${value}`, EXIT.usage);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError('--gate must be a JSON object (a gate policy; docs/rollouts.md#the-rollout-gate) or "off"', EXIT.usage);
  return parsed as Record<string, unknown>;
}

const describe = (r: RolloutView) =>
  `${r.id}  ${r.model}/${r.channel}  ${r.fromVersion} → ${r.toVersion}  ${r.state}  ${r.percentage}% (step ${r.stepIndex + 1}/${r.steps.length})${r.nextStepAt ? `  next step ${r.nextStepAt}` : ''}`;

export async function rolloutCommand(sub: string | undefined, positionals: string[], flags: Flags, io: Io): Promise<number> {
  const app = need(flags, 'app');
  const api = client(flags, io);
  if (sub === 'start') {
    const steps = need(flags, 'steps').split(',').map(Number);
    if (steps.some((p) => !Number.isFinite(p))) throw new CliError('--steps must be percentages, e.g. 1,5,25,50,100', EXIT.usage);
    const gate = parseGateFlag(flags.gate as string | undefined);
    const hold = flags.hold === undefined ? undefined : Number(flags.hold);
    if (hold !== undefined && gate !== false) {
      throw new CliError('--hold paces rollouts without a gate: add --gate off, or let the gate promote each step (its policy\'s minHoldWindows sets the least hold)', EXIT.usage);
    }
    const rollout = await api<RolloutView>('POST', `apps/${app}/rollouts`, {
      json: {
        model: need(flags, 'model'),
        toVersion: need(flags, 'to'),
        channel: (flags.channel as string | undefined) ?? 'stable',
        steps: steps.map((percentage) => ({ percentage, ...(hold !== undefined && { holdMinutes: hold }) })),
        ...(gate !== undefined && { gate }),
      },
    });
    io.out(`started ${describe(rollout)}`);
    return EXIT.ok;
  }
  if (sub === 'status') {
    const id = positionals[0];
    const rollouts = id ? [await api<RolloutView>('GET', `apps/${app}/rollouts/${encodeURIComponent(id)}`)] : (await api<{ rollouts: RolloutView[] }>('GET', `apps/${app}/rollouts`)).rollouts;
    if (rollouts.length === 0) io.out(`app ${app} has no rollouts`);
    for (const r of rollouts) {
      io.out(describe(r));
      const { decisions } = await api<{ decisions: DecisionView[] }>('GET', `apps/${app}/rollouts/${encodeURIComponent(r.id)}/decisions?limit=1`);
      for (const line of decisions[0] ? describeDecision(decisions[0]) : [noDecision(r.gate !== null)]) io.out(line);
    }
    return EXIT.ok;
  }
  if (sub === 'advance' || sub === 'pause' || sub === 'resume' || sub === 'abort' || sub === 'rollback') {
    const id = positionals[0];
    if (!id) throw new CliError(`usage: edgeloop rollout ${sub} --app APP ROLLOUT_ID`, EXIT.usage);
    io.out(describe(await api<RolloutView>('POST', `apps/${app}/rollouts/${encodeURIComponent(id)}/${sub}`)));
    return EXIT.ok;
  }
  throw new CliError('usage: edgeloop rollout start|advance|pause|resume|abort|rollback|status --app APP', EXIT.usage);
}
