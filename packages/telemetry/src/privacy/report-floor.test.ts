import { describe, expect, it } from 'vitest';
import { applyReportFloor, DEFAULT_MIN_REPORTS } from './report-floor.js';

describe('applyReportFloor', () => {
  it('hides aggregates below the floor without computing them', () => {
    let computed = 0;
    const value = () => ++computed;
    expect(DEFAULT_MIN_REPORTS).toBe(20);
    expect(applyReportFloor(19, value)).toEqual({ shown: false, reports: 19, minReports: 20 });
    expect(computed).toBe(0);
    expect(applyReportFloor(20, value)).toEqual({ shown: true, reports: 20, value: 1 });
    expect(applyReportFloor(4, value, 5)).toEqual({ shown: false, reports: 4, minReports: 5 });
  });
});
