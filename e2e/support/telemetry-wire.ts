import { parseReport, type TelemetryReport } from '@edgeloop/telemetry';

export interface SentReport {
  report: TelemetryReport;
  /** The server's answer to the request that carried it. */
  status: number;
}

/**
 * A `fetch` for a Node runtime that passes every request through and keeps what the telemetry
 * POSTs carried (parsed as schema-3 reports) with the server's answers: what left the device.
 */
export function recordingFetch(): { fetch: typeof fetch; sent: SentReport[] } {
  const sent: SentReport[] = [];
  const recording = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init);
    const url = input instanceof Request ? input.url : String(input);
    if (init?.method === 'POST' && new URL(url).pathname.endsWith('/telemetry')) {
      const parsed: unknown = JSON.parse(String(init.body));
      for (const value of Array.isArray(parsed) ? parsed : [parsed]) sent.push({ report: parseReport(value), status: response.status });
    }
    return response;
  };
  return { fetch: recording as typeof fetch, sent };
}
