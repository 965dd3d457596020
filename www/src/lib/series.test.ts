import { describe, expect, it } from 'vitest';
import type { LatencyResponse } from '../api';
import { bucketRange, hasSamples, percentileSeries, rateSeries } from './series';

const resp: LatencyResponse = {
  step_ns: 10e9,
  series: [
    { time_unix_nano: '1763700010000000000', count: 0, total: null, uplink: null, server: null, downlink: null },
    {
      time_unix_nano: '1763700000000000000', count: 50,
      total: { p50: 12e6, p95: 40e6, p99: 90e6 },
      uplink: { p50: 2e6, p95: 5e6, p99: 8e6 },
      server: { p50: 8e6, p95: 30e6, p99: 70e6 },
      downlink: null,
    },
  ],
};

describe('percentile series', () => {
  it('sorts buckets by time and converts to seconds and milliseconds', () => {
    expect(percentileSeries(resp, 'total')).toEqual([
      [1763700000, 1763700010], [12, null], [40, null], [90, null],
    ]);
    expect(percentileSeries(resp, 'server')[2]).toEqual([30, null]);
  });

  it('leaves gaps where a metric has no sample', () => {
    expect(percentileSeries(resp, 'downlink').slice(1)).toEqual([[null, null], [null, null], [null, null]]);
  });

  it('turns counts into a per-second rate', () => {
    expect(rateSeries(resp)).toEqual([[1763700000, 1763700010], [5, 0]]);
  });

  it('knows when there is nothing to draw', () => {
    expect(hasSamples(resp)).toBe(true);
    expect(hasSamples({ step_ns: 1, series: [resp.series[0]] })).toBe(false);
  });

  it('gives the time range behind a point', () => {
    expect(bucketRange(resp, 0)).toEqual({ start: '1763700000000000000', end: '1763700010000000000' });
    expect(bucketRange(resp, 5)).toBeNull();
  });
});
