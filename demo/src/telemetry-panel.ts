import type { PendingTelemetry, Runtime } from '@edgeloop/runtime';
import { decisionInWords } from './gate-words.js';
import { readServerViews, type Interval, type ServerViews } from './server-views.js';

/** What the panel shows, also exposed as `window.edgeloopTelemetryView` for scripts and browser tests. */
export interface TelemetryView {
  device?: PendingTelemetry;
  server?: ServerViews;
  /** Why the server's views could not be read (no token, a refused request, the server gone). */
  serverError?: string;
  /** When the panel last finished a refresh (ms since the epoch). */
  refreshed?: number;
}

declare global {
  interface Window {
    edgeloopTelemetryView: TelemetryView;
  }
}

export interface TelemetryPanelOptions {
  runtime: Runtime;
  serverUrl: string;
  /** A token with scope `read` for the admin API (npm start passes one); without it only the device side is shown. */
  token: string | undefined;
  app: string;
  /** The model versions this page runs: each gets a row, released or not. */
  running: () => Array<{ model: string; version: string }>;
}

const $ = (id: string) => document.getElementById(id)!;

/**
 * The demo's telemetry panel: what this device holds and has not sent (exact, local), and what the
 * server has released (noised, per closed window, nothing below the floor), with the rollout gate's
 * latest decisions. Refreshes every few seconds.
 */
export function startTelemetryPanel(options: TelemetryPanelOptions): { refresh(): Promise<void> } {
  window.edgeloopTelemetryView = {};
  let busy = false;
  async function refresh(): Promise<void> {
    if (busy) return;
    busy = true;
    try {
      const device = await options.runtime.telemetry.pending();
      $('device-telemetry').textContent = deviceText(device);
      let server: ServerViews | undefined;
      let serverError: string | undefined;
      if (options.token === undefined) {
        serverError = 'the server views need a token with scope read: start the demo with npm start, or add ?token=… (npm run edgeloop -- token create --app demo --scopes read)';
      } else {
        try {
          server = await readServerViews(options.serverUrl, options.token, options.app);
        } catch (error) {
          serverError = `the server views could not be read: ${error instanceof Error ? error.message : String(error)}`;
        }
      }
      if (server) renderServer(server, options.running());
      $('server-telemetry').textContent = serverError ?? (server && server.releases.length === 0 ? (server.floor.notice ?? '') : '');
      window.edgeloopTelemetryView = { device, ...(server && { server }), ...(serverError !== undefined && { serverError }), refreshed: Date.now() };
      document.body.dataset.telemetry = server ? 'server' : 'device';
    } finally {
      busy = false;
    }
  }
  void refresh();
  setInterval(() => void refresh(), 3000);
  return { refresh };
}

function deviceText(pending: PendingTelemetry): string {
  const lines = pending.entries.map((e) => {
    const state =
      e.state === 'recording' ? `recording until ${new Date(e.end).toLocaleTimeString()}`
      : e.state === 'ended' ? 'period ended, sealed at the next flush'
      : 'sealed into a noised report, waiting to be sent';
    return `${e.model} ${e.version} on ${e.backend}: ${e.inferences} inferences, ${e.errors} errors — ${state}`;
  });
  if (lines.length === 0) lines.push('nothing waiting: every sealed report was delivered');
  if (pending.blocked) lines.push(`not sending: ${pending.blocked}`);
  return lines.join('\n');
}

function renderServer(views: ServerViews, running: Array<{ model: string; version: string }>): void {
  const { minReports, demo } = views.floor;
  const banner = $('demo-banner');
  banner.hidden = demo !== true;
  banner.textContent = demo ? `Demo server: telemetry is shown from ${minReports} report${minReports === 1 ? '' : 's'} instead of 20. Never use this setting with real devices.` : '';

  fill('releases', views.releases.map((r) => [`${r.model} ${r.version}`, r.backend, cohortText(r.cohort), `${time(r.windowFrom)}–${time(r.windowTo)}`, String(r.reports)]));

  // One report gives an estimate but no spread: the server's interval is then only the point itself.
  const rows = views.health.map((h) => {
    const spread = h.reports >= 2;
    return [`${h.model} ${h.version}`, h.backend, String(h.reports), percent(h.errored, spread), `${ms(h.latencyP50Ms)} / ${ms(h.latencyP95Ms)}`, count(h.inferences, spread)];
  });
  // A version this page runs with nothing released: below the floor, shown without any count.
  const below = running.filter((r) => !views.health.some((h) => h.model === r.model && h.version === r.version));
  fill('health', rows, below.map((r) => [`${r.model} ${r.version}`, `fewer than ${minReports} report${minReports === 1 ? '' : 's'} released: nothing is shown below the floor`]));

  // Each report is noised on its device for its own privacy: a handful of them says little.
  const note = $('health-note');
  note.hidden = !demo || views.health.length === 0;
  note.textContent = demo ? `Every value in a report is noised on its device; estimates from fewer than 20 reports (a demo floor) are mostly noise.` : '';

  fill('gate', views.rollouts.map(({ rollout, decision }) => [
    `${rollout.id}: ${rollout.model} ${rollout.fromVersion} → ${rollout.toVersion}`,
    `${rollout.state}, ${rollout.percentage} % (step ${rollout.stepIndex + 1}/${rollout.steps.length})`,
    decisionInWords(rollout, decision),
  ]));
}

/** Replaces a table's body: one row per entry, then rows that span the table with one message. */
function fill(id: string, rows: string[][], notes: string[][] = []): void {
  const table = $(id) as HTMLTableElement;
  const columns = table.tHead?.rows[0]?.cells.length ?? 1;
  const body = table.tBodies[0]!;
  body.replaceChildren(
    ...rows.map((cells) => row(cells)),
    ...notes.map(([label, text]) => {
      const tr = row([label!]);
      tr.className = 'below-floor';
      const cell = document.createElement('td');
      cell.colSpan = columns - 1;
      cell.textContent = text!;
      tr.append(cell);
      return tr;
    }),
  );
  table.hidden = rows.length + notes.length === 0;
}

function row(cells: string[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const text of cells) {
    const td = document.createElement('td');
    td.textContent = text;
    tr.append(td);
  }
  return tr;
}

const cohortText = (c: { rollout: string; arm: string; step: number } | null) => (c === null ? '–' : `${c.rollout} ${c.arm}, step ${c.step + 1}`);
/** Local 24-hour HH:MM. */
const time = (iso: string) => {
  const d = new Date(iso);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};
const percent = (x: Interval, spread: boolean) => `${(100 * x.value).toFixed(0)} %${spread ? ` (${(100 * x.low).toFixed(0)}–${(100 * x.high).toFixed(0)} %)` : ''}`;
const ms = (x: Interval) => `${x.value < 10 ? x.value.toFixed(2) : x.value.toFixed(0)} ms`;
const count = (x: Interval, spread: boolean) => `${x.value.toFixed(0)}${spread ? ` (${x.low.toFixed(0)}–${x.high.toFixed(0)})` : ''}`;
