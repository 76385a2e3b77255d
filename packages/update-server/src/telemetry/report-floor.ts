import { DEFAULT_MIN_REPORTS } from '@edgeloop/telemetry';
import { ServerError } from '../errors.js';

/** How the floor is set: `createApp({ telemetry: { minReports, demo }, host })`. */
export interface ReportFloorOptions {
  /** Reports a release needs, and every view entry. Default (and minimum outside a demo) 20. */
  minReports?: number;
  /** Allows a floor below 20 on a loopback host, and makes every telemetry answer say `demo: true`. */
  demo?: boolean;
  /** The host the server listens on; a floor below 20 needs a loopback one. */
  host?: string;
}

/**
 * The minimum-reports floor of releases and views. It counts reports that passed admission and
 * applies to every route; nothing below it exists in any answer. Lowering it below
 * {@link DEFAULT_MIN_REPORTS} is for a local demo with a handful of devices only: it needs an
 * explicit demo flag and a loopback host, and every telemetry answer then says `demo: true` so a
 * console shows a banner.
 */
export class ReportFloor {
  readonly minReports: number;
  readonly demo: boolean;

  constructor(options: ReportFloorOptions = {}) {
    const minReports = options.minReports ?? DEFAULT_MIN_REPORTS;
    if (!Number.isInteger(minReports) || minReports < 1) throw new ServerError('bad_request', `telemetry minReports must be an integer ≥ 1, got ${minReports}`);
    if (minReports < DEFAULT_MIN_REPORTS) {
      if (options.demo !== true) {
        throw new ServerError('bad_request', `telemetry minReports ${minReports} is below ${DEFAULT_MIN_REPORTS}: set telemetry.demo (edgeloop serve --telemetry-demo) to lower it for a local demo, or remove it`);
      }
      if (options.host === undefined || !isLoopback(options.host)) {
        throw new ServerError('bad_request', `telemetry minReports ${minReports} is a demo setting and needs a loopback host (127.0.0.1, ::1 or localhost), got ${options.host ?? 'none'}; pass host when calling createApp`);
      }
    }
    this.minReports = minReports;
    this.demo = minReports < DEFAULT_MIN_REPORTS;
  }

  /** The banner a demo shows, or null. */
  get banner(): string | null {
    return this.demo ? `demo: telemetry is shown from ${this.minReports} reports instead of ${DEFAULT_MIN_REPORTS}; never use this setting with real devices` : null;
  }

  /** What an answer says when nothing in it reached the floor: never how many reports there are. */
  fewer(range: { from: Date; to: Date; model?: string; version?: string } | null): string {
    const what =
      range?.model !== undefined && range.version !== undefined ? `${range.model}@${range.version}`
      : range?.model !== undefined ? `model "${range.model}"`
      : range?.version !== undefined ? `version "${range.version}"`
      : 'any model version';
    const when = range ? ` between ${range.from.toISOString()} and ${range.to.toISOString()}` : '';
    return `fewer than ${this.minReports} reports were released for ${what}${when}; nothing is shown below ${this.minReports}`;
  }
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}
