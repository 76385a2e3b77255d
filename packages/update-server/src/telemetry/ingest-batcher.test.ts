import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig, type TelemetryReport } from '@edgeloop/telemetry';
import { IngestBatcher, IngestOverloaded } from './ingest-batcher.js';
import type { IngestItem } from './window-store.js';

const config = defaultTelemetryConfig();
const item = (id: string): IngestItem => ({ report: { reportId: id } as TelemetryReport, config, profileCells: [], arrivedAt: 0 });

describe('IngestBatcher', () => {
  it('groups reports that arrive together into one write, at most maxReports each, one write at a time', async () => {
    const writes: string[][] = [];
    let running = 0;
    let overlap = false;
    const batcher = new IngestBatcher(
      async (items) => {
        overlap ||= running > 0;
        running += 1;
        writes.push(items.map((i) => i.report.reportId));
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        return items.map(() => ({ accepted: true }));
      },
      { maxReports: 4, maxDelayMs: 5 },
    );
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.submit(item(`r${i}`))));
    expect(results).toHaveLength(10);
    expect(writes.map((w) => w.length)).toEqual([4, 4, 2]);
    expect(writes.flat()).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    expect(overlap).toBe(false);
  });

  it('refuses past maxQueued and retries a failed batch report by report, so one bad report fails alone', async () => {
    const batcher = new IngestBatcher(
      async (items) => {
        if (items.some((i) => i.report.reportId === 'bad')) throw new Error('constraint violated');
        return items.map(() => ({ accepted: true }));
      },
      { maxDelayMs: 5, maxQueued: 3 },
    );
    const submitted = ['a', 'bad', 'c'].map((id) => batcher.submit(item(id)));
    await expect(batcher.submit(item('d'))).rejects.toBeInstanceOf(IngestOverloaded);
    const settled = await Promise.allSettled(submitted);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await batcher.drain();
    expect(batcher.queued).toBe(0);
    await expect(batcher.submit(item('e'))).resolves.toEqual({ accepted: true });
  });
});
