import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapToken } from '../auth/bootstrap.js';
import { createAppSigningKey, loadSigningKey, rotateSigningKey } from '../manifest/signing-key.js';
import { scopeSchema } from '../auth/scopes.js';
import { startServer } from '../server.js';
import { ServerError } from '../errors.js';
import { blobStoreFromFlags } from './blob-store-flags.js';
import { CliError, EXIT, exitFor } from './client.js';
import { healthCommand, publishCommand, rolloutCommand, tokenCommand, type Io } from './commands.js';

export const USAGE = `usage: edgeloop <command> [options]

  serve [--data-dir DIR] [--host HOST] [--port PORT] [--no-seed] [--database-url URL] [--drain-timeout SECONDS]
        [--telemetry-period SECONDS]          the accounting period devices report per (default 86400: one day)
        [--telemetry-demo --min-reports N --telemetry-window SECONDS]
                                              a local demo (loopback only): telemetry shown from N < 20 reports,
                                              released per window of SECONDS (≥ 60, dividing an hour) instead of per hour
        [--blob-store fs|postgres|s3://BUCKET/PREFIX] [--blob-cache-max-bytes SIZE]
        [--admin-cors-origins ORIGIN[,ORIGIN…]]   pages on these origins may call the admin API (e.g. a console)
  token bootstrap --app APP [--data-dir DIR | --database-url URL]   first admin token, straight in the database
  token create --app APP --scopes read,publish,rollout,admin [--name N] [--expires-in-days D]
  token list --app APP
  token revoke --app APP TOKEN_ID
  keys show|rotate [--app APP] [--data-dir DIR]   the manifest signing key (an app's own with --app);
                                                 rotate: a new key, handed over by the old one
  keys create --app APP [--data-dir DIR]          give APP its own signing key, handed over by the server key
  publish FILE --app APP --model MODEL --version LABEL [--variant V --role model|weights]
               [--backend B] [--precision P] [--notes TEXT] [--channel C] [--idempotency-key K]
               [--golden DIR]    every *.json golden file in DIR, checked against the model first
               [--health JSON]   e.g. '{"inferences":100,"p95Ratio":2,"golden":{"maxAbs":0.001}}'
  health --app APP --model MODEL --version LABEL [JSON]   show or set a version's health policy ('{}': defaults)
  rollout start --app APP --model MODEL --to LABEL --steps 1,5,25,50,100 [--gate JSON | --gate off --hold MINUTES] [--channel C]
  rollout advance|pause|resume|abort|rollback --app APP ROLLOUT_ID
  rollout status --app APP [ROLLOUT_ID]    with the gate's latest decision in words

API commands take --server URL (env EDGELOOP_SERVER, default http://127.0.0.1:8787/) and
--token TOKEN (env EDGELOOP_TOKEN). Environment: EDGELOOP_DATA_DIR, DATABASE_URL, HOST, PORT, EDGELOOP_DRAIN_TIMEOUT,
EDGELOOP_BLOB_STORE, EDGELOOP_BLOB_CACHE_MAX_BYTES, EDGELOOP_ADMIN_CORS_ORIGINS (S3: the AWS SDK's AWS_* variables).
serve stops on SIGTERM or SIGINT: it stops accepting, lets requests in flight finish (default 25 s), then exits 0;
a second signal exits at once (1).
Exit codes: 0 ok, 1 failed, 2 usage or invalid input, 3 not authorised, 4 not found, 5 conflict, 6 upload refused.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  'database-url': { type: 'string' },
  'blob-store': { type: 'string' },
  'blob-cache-max-bytes': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'no-seed': { type: 'boolean' },
  'telemetry-demo': { type: 'boolean' },
  'min-reports': { type: 'string' },
  'telemetry-period': { type: 'string' },
  'telemetry-window': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'admin-cors-origins': { type: 'string' },
  server: { type: 'string' },
  token: { type: 'string' },
  app: { type: 'string' },
  model: { type: 'string' },
  version: { type: 'string' },
  variant: { type: 'string' },
  role: { type: 'string' },
  backend: { type: 'string' },
  precision: { type: 'string' },
  format: { type: 'string' },
  notes: { type: 'string' },
  channel: { type: 'string' },
  'idempotency-key': { type: 'string' },
  name: { type: 'string' },
  scopes: { type: 'string' },
  'expires-in-days': { type: 'string' },
  to: { type: 'string' },
  steps: { type: 'string' },
  hold: { type: 'string' },
  gate: { type: 'string' },
  golden: { type: 'string' },
  health: { type: 'string' },
} as const;

/**
 * Runs one `edgeloop` command and returns its exit code (`serve` returns -1: it keeps running).
 * Testable: output goes through `io.out`, the environment comes from `io.env`.
 */
export async function runCli(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\n${USAGE}`, EXIT.usage);
  }
  const { values: flags, positionals } = parsed;
  const [command, sub, ...rest] = positionals;
  if (command === 'serve') return serve(flags, io);
  if (command === 'token' && sub === 'bootstrap') return bootstrap(flags, io);
  if (command === 'keys') {
    return keysCommand(sub, flags, io).catch((error: unknown) => {
      throw error instanceof ServerError ? new CliError(error.message, exitFor(error.status)) : error;
    });
  }
  if (command === 'token') return tokenCommand(sub, rest, flags, io);
  if (command === 'publish') return publishCommand(sub === undefined ? [] : [sub, ...rest], flags, io);
  if (command === 'rollout') return rolloutCommand(sub, rest, flags, io);
  if (command === 'health') return healthCommand(flags, io, sub);
  throw new CliError(command === undefined ? USAGE : `unknown command "${command}"\n${USAGE}`, EXIT.usage);
}

const dataDirOf = (flags: Record<string, unknown>, io: Io) => resolve((flags['data-dir'] as string | undefined) ?? io.env.EDGELOOP_DATA_DIR ?? '.edgeloop-data');

async function bootstrap(flags: Record<string, unknown>, io: Io): Promise<number> {
  const app = flags.app as string | undefined;
  if (!app) throw new CliError('missing --app', EXIT.usage);
  const url = (flags['database-url'] as string | undefined) ?? io.env.DATABASE_URL;
  if (!url) await mkdir(dataDirOf(flags, io), { recursive: true });
  const db = url ? await (await import('../db/postgres.js')).openPostgres(url) : await (await import('../db/pglite.js')).openPglite(join(dataDirOf(flags, io), 'db'));
  try {
    const scopes = scopeSchema.array().parse(((flags.scopes as string | undefined) ?? 'admin').split(','));
    const { token, info } = await bootstrapToken(db, { app, scopes, name: (flags.name as string | undefined) ?? 'bootstrap admin' });
    io.out(`created ${info.id} (${info.scopes.join(', ')}) for app ${app}`);
    io.out(`token (shown once, store it now): ${token}`);
    return EXIT.ok;
  } finally {
    await db.close();
  }
}

/**
 * `keys show` prints the public key clients pin; `keys rotate` replaces the signing key with a new
 * one and records a statement, signed by the old key, that clients follow; `keys create --app`
 * gives an app a key of its own. With `--app`, show and rotate act on that app's own key. Restart
 * the server (or every instance) afterwards so it signs with the new key.
 */
async function keysCommand(sub: string | undefined, flags: Record<string, unknown>, io: Io): Promise<number> {
  const dataDir = dataDirOf(flags, io);
  const app = flags.app as string | undefined;
  if (sub === 'show') {
    const { signer } = await loadSigningKey({ dataDir, ...(app !== undefined && { app }) });
    io.out(`key id ${signer.key.keyId}${app ? ` (app "${app}"'s own key)` : ''}`);
    io.out(`public key (pin it in clients): ${signer.key.publicKey}`);
    io.out(`rotations: ${signer.rotations.length}`);
    return EXIT.ok;
  }
  if (sub === 'rotate') {
    const { previous, next } = await rotateSigningKey(dataDir, app !== undefined ? { app } : {});
    io.out(`rotated ${previous.keyId.slice(0, 16)}… → ${next.keyId.slice(0, 16)}…${app ? ` for app "${app}"` : ''}`);
    io.out(`new public key: ${next.publicKey}`);
    io.out('restart the server to sign with it; clients that trust the old key follow the rotation');
    return EXIT.ok;
  }
  if (sub === 'create') {
    if (!app) throw new CliError('usage: edgeloop keys create --app APP [--data-dir DIR]', EXIT.usage);
    const { previous, next } = await createAppSigningKey(dataDir, app);
    io.out(`app "${app}" now has its own key ${next.keyId.slice(0, 16)}…, handed over from the server key ${previous.keyId.slice(0, 16)}…`);
    io.out(`public key (pin it in "${app}"'s clients): ${next.publicKey}`);
    io.out(`restart the server to sign "${app}"'s manifests with it; clients pinning the server key follow the hand-over`);
    return EXIT.ok;
  }
  throw new CliError('usage: edgeloop keys show|rotate|create [--app APP] [--data-dir DIR]', EXIT.usage);
}

/** A whole number of seconds ≥ 1 from `--name`, or undefined when the flag is absent. */
function seconds(flags: Record<string, unknown>, name: string): number | undefined {
  const text = flags[name] as string | undefined;
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new CliError(`--${name} must be a whole number of seconds ≥ 1, got "${text}"`, EXIT.usage);
  return value;
}

async function serve(flags: Record<string, unknown>, io: Io): Promise<number> {
  const portText = (flags.port as string | undefined) ?? io.env.PORT ?? '8787';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`--port must be an integer 0–65535, got "${portText}"`, EXIT.usage);
  const databaseUrl = (flags['database-url'] as string | undefined) ?? io.env.DATABASE_URL;
  const minText = flags['min-reports'] as string | undefined;
  const minReports = minText === undefined ? undefined : Number(minText);
  if (minReports !== undefined && (!Number.isInteger(minReports) || minReports < 1)) throw new CliError(`--min-reports must be an integer ≥ 1, got "${minText}"`, EXIT.usage);
  const periodSeconds = seconds(flags, 'telemetry-period');
  const windowSeconds = seconds(flags, 'telemetry-window');
  const blobStore = blobStoreFromFlags(flags, io.env, databaseUrl);
  const adminOrigins = ((flags['admin-cors-origins'] as string | undefined) ?? io.env.EDGELOOP_ADMIN_CORS_ORIGINS)?.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of adminOrigins ?? []) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) throw new CliError(`--admin-cors-origins takes origins like http://127.0.0.1:5173 (scheme, host and port, no path), got "${origin}"`, EXIT.usage);
  }
  const drainText = (flags['drain-timeout'] as string | undefined) ?? io.env.EDGELOOP_DRAIN_TIMEOUT ?? '25';
  const drainSeconds = Number(drainText);
  if (!Number.isFinite(drainSeconds) || drainSeconds < 0) throw new CliError(`--drain-timeout must be a number of seconds ≥ 0, got "${drainText}"`, EXIT.usage);
  const server = await startServer({
    drainTimeoutMs: drainSeconds * 1000,
    dataDir: dataDirOf(flags, io),
    host: (flags.host as string | undefined) ?? io.env.HOST ?? '127.0.0.1',
    port,
    seed: flags['no-seed'] !== true,
    telemetry: {
      ...(minReports !== undefined && { minReports }),
      ...(flags['telemetry-demo'] === true && { demo: true }),
      ...(windowSeconds !== undefined && { windowMs: windowSeconds * 1000 }),
      ...(periodSeconds !== undefined && { config: { periodMs: periodSeconds * 1000 } }),
    },
    ...(databaseUrl && { databaseUrl }),
    ...(adminOrigins !== undefined && adminOrigins.length > 0 && { adminCorsOrigins: adminOrigins }),
    blobStore,
    // A PKCS#8 PEM Ed25519 key from the environment overrides the one kept in the data directory.
    ...(io.env.EDGELOOP_SIGNING_KEY !== undefined && { signingKeyPem: io.env.EDGELOOP_SIGNING_KEY }),
  });
  io.out(`edgeloop update server listening on ${server.url}`);
  // First signal: drain and exit 0 (what systemd and Kubernetes send before they give up and
  // SIGKILL). A second one, e.g. Ctrl-C again, exits at once.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.out(`${signal} again: exiting without waiting for requests in flight`);
      process.exit(1);
    }
    stopping = true;
    io.out(`${signal}: no longer accepting connections; finishing requests in flight (at most ${drainSeconds} s)`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        io.out(`closing failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return -1;
}
