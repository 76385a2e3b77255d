import { parseTelemetryConfig, TelemetryError, type TelemetryConfig } from '@edgeloop/telemetry';
import type { Database, Sql } from '../../db/database.js';
import { ServerError } from '../../errors.js';
import { bumpManifest } from '../../registry/changes.js';
import { buildConfig, sameSettings, withPinned, type ConfigSettings } from './config-options.js';

/** Reports made under a config are admitted until this long after it stopped being the current one. */
export const CONFIG_RETENTION_MS = 7 * 86_400_000;

/** Why a config was issued. */
export type ConfigReason = 'initial' | 'options' | 'latency';

/** One issued config and its life: current until a later one was issued (`supersededAt`). */
export interface IssuedConfig {
  seq: number;
  config: TelemetryConfig;
  reason: ConfigReason;
  issuedAt: Date;
  supersededAt: Date | null;
}

interface ConfigRow {
  seq: number | string;
  id: string;
  body: unknown;
  reason: ConfigReason;
  issued_at: Date;
}

/**
 * The signed telemetry configs of each app, in `telemetry_configs` (append-only): the newest is
 * the current one, signed into the manifest; every config issued is kept, and reports made under
 * one are admitted until {@link CONFIG_RETENTION_MS} after it was superseded. Issuing a config
 * bumps the manifest in the same transaction, so devices get it with their next poll.
 */
export class TelemetryConfigStore {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #onChange: (app: string) => void;
  /** What the operator's options ask for (createApp({ telemetry: { config } })). */
  readonly settings: ConfigSettings;

  /** Latency ranges the operator pinned: in every config, never narrowed. */
  readonly pinned: TelemetryConfig['latency'];

  constructor(options: { db: Database; settings: ConfigSettings; pinned?: TelemetryConfig['latency']; now?: () => number; onChange: (app: string) => void }) {
    this.#db = options.db;
    this.settings = options.settings;
    this.pinned = options.pinned ?? {};
    this.#now = options.now ?? Date.now;
    this.#onChange = options.onChange;
  }

  /** Every config issued for `app`, oldest first. */
  async history(app: string, sql: Sql = this.#db): Promise<IssuedConfig[]> {
    const rows = await sql.query<ConfigRow>('select seq, id, body, reason, issued_at from telemetry_configs where app = $1 order by seq', [app]);
    return rows.map((row, i) => ({
      seq: Number(row.seq),
      config: parseStored(row),
      reason: row.reason,
      issuedAt: row.issued_at,
      supersededAt: rows[i + 1]?.issued_at ?? null,
    }));
  }

  /** The current config of `app`, or null before its first manifest. */
  async current(app: string, sql: Sql = this.#db): Promise<TelemetryConfig | null> {
    const [row] = await sql.query<ConfigRow>('select seq, id, body, reason, issued_at from telemetry_configs where app = $1 order by seq desc limit 1', [app]);
    return row ? parseStored(row) : null;
  }

  /**
   * The current config of `app`, issuing the options' config first when the app has none (its first
   * manifest). `issued` says whether this call changed the manifest.
   */
  async ensure(app: string): Promise<{ config: TelemetryConfig; issued: boolean }> {
    const existing = await this.current(app);
    if (existing) return { config: existing, issued: false };
    const { config, issued } = await this.#issue(app, 'initial', (current) => current ?? buildConfig(this.settings, this.pinned));
    return { config: config!, issued };
  }

  /**
   * Issues a new config for `app` when its current one has other settings than the options (after
   * the operator changed them), keeping its latency ranges. Called for every app at start.
   */
  async reconcile(app: string): Promise<boolean> {
    const { issued } = await this.#issue(app, 'options', (current) => {
      if (current === null) return current;
      const latency = withPinned(current.latency, this.pinned);
      const next = buildConfig(this.settings, latency);
      return sameSettings(current, this.settings) && next.id === current.id ? current : next;
    });
    return issued;
  }

  /** Issues a config with new latency ranges (same settings as the current one). */
  async issueLatency(app: string, latency: TelemetryConfig['latency']): Promise<{ config: TelemetryConfig; issued: boolean }> {
    const { config, issued } = await this.#issue(app, 'latency', (current) => buildConfig(current ?? this.settings, withPinned(latency, this.pinned)));
    return { config: config!, issued };
  }

  /** The configs of `app` whose reports are admitted at `now`, by id. */
  static admissible(history: readonly IssuedConfig[], now: number): Map<string, TelemetryConfig> {
    const out = new Map<string, TelemetryConfig>();
    for (const issued of history) {
      if (issued.supersededAt === null || now - issued.supersededAt.getTime() <= CONFIG_RETENTION_MS) out.set(issued.config.id, issued.config);
    }
    return out;
  }

  /**
   * Under the app's row lock (instances issuing at once take turns): `next` maps the current config
   * to the one that should be current; a different id is appended and the manifest bumped.
   */
  async #issue(
    app: string,
    reason: ConfigReason,
    next: (current: TelemetryConfig | null) => TelemetryConfig | null,
  ): Promise<{ config: TelemetryConfig | null; issued: boolean }> {
    const result = await this.#db.transaction(async (tx) => {
      const apps = await tx.query('select 1 from apps where name = $1 for update', [app]);
      if (apps.length === 0) throw new ServerError('not_found', `unknown app "${app}"; publish a model to it first`);
      const current = await this.current(app, tx);
      const wanted = next(current);
      if (wanted === null || wanted.id === current?.id) return { config: current, issued: false };
      await tx.query('insert into telemetry_configs (app, id, body, reason, issued_at) values ($1, $2, $3, $4, $5)', [
        app,
        wanted.id,
        JSON.stringify(wanted),
        reason,
        new Date(this.#now()),
      ]);
      await bumpManifest(tx, app);
      return { config: wanted, issued: true };
    });
    if (result.issued) this.#onChange(app);
    return result;
  }
}

function parseStored(row: ConfigRow): TelemetryConfig {
  try {
    return parseTelemetryConfig(row.body);
  } catch (error) {
    // Only this code writes the table, after validating: a bad row is corruption, not input.
    throw new ServerError('internal', `stored telemetry config ${row.id} is invalid: ${TelemetryError.fromUnknown(error).message}`);
  }
}
