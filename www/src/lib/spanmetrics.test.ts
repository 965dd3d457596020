import { describe, expect, it } from 'vitest';
import type { Operation } from '../api';
import { alignedWindow, formatRatio, seriesOf, servicePath, sortRows, sparkRuns } from './spanmetrics';

const op = (name: string, calls: number, p95: number | null, errorRatio: number | null = 0): Operation => ({
  name, calls, errors: Math.round((errorRatio ?? 0) * calls), error_ratio: errorRatio, rate_per_s: calls / 60,
  p50_ns: p95, p95_ns: p95, p99_ns: p95, series: [],
});

describe('span metrics', () => {
  it('escape dots and slashes in a service page path, and read it back', () => {
    expect(servicePath('checkout.v2/eu')).toBe('/services/checkout%2Ev2%2Feu');
    expect(decodeURIComponent('checkout%2Ev2%2Feu')).toBe('checkout.v2/eu');
  });

  it('align a window to whole steps ending after now', () => {
    const w = alignedWindow(3600e3, 60, 1_763_700_030_000);
    expect(w).toEqual({ start: '1763696460000000000', end: '1763700060000000000', step: '60000000000' });
  });

  it('sort by any column: names A to Z, numbers largest first, nulls last, ties by name', () => {
    const rows = [op('b', 5, 3e6), op('a', 5, null), op('c', 9, 1e6, 0.5)];
    const names = (r: Operation[]) => r.map((o) => o.name);
    expect(names(sortRows(rows, 'name'))).toEqual(['a', 'b', 'c']);
    expect(names(sortRows(rows, 'name', true))).toEqual(['c', 'b', 'a']);
    expect(names(sortRows(rows, 'calls'))).toEqual(['c', 'a', 'b']);
    expect(names(sortRows(rows, 'calls', true))).toEqual(['a', 'b', 'c']);
    expect(names(sortRows(rows, 'p95_ns'))).toEqual(['b', 'c', 'a']);
    expect(names(sortRows(rows, 'p95_ns', true))).toEqual(['c', 'b', 'a']);
    expect(names(sortRows(rows, 'error_ratio'))).toEqual(['c', 'a', 'b']);
  });

  it('draw sparklines as runs between gaps, scaled to the largest value', () => {
    expect(sparkRuns([0, 2, null, 1, 1], 40, 10)).toEqual(['0.0,9.0 10.0,1.0', '30.0,5.0 40.0,5.0']);
    expect(sparkRuns([null, null], 40, 10)).toEqual([]);
    expect(sparkRuns([0, 0], 40, 10)).toEqual(['0.0,9.0 40.0,9.0']);
  });

  it('take rate, error ratio and p95 in milliseconds from a series', () => {
    const red = { ...op('x', 2, 4e6), series: [{ ...op('x', 2, 4e6, 0.5), time_unix_nano: '0' }, { ...op('x', 0, null, null), time_unix_nano: '60' }] };
    expect(seriesOf(red, 'p95')).toEqual([4, null]);
    expect(seriesOf(red, 'errors')).toEqual([0.5, null]);
    expect(formatRatio(0.0025)).toBe('0.25%');
    expect(formatRatio(null)).toBe('–');
  });
});
