import { describe, expect, it } from 'vitest';
import type { LatencyResponse, RatesResponse } from '../api';
import { bucketRange, hasSamples, percentileSeries, rateSeries, rateStepRange, typeRateSeries } from './series';

const resp: LatencyResponse = {
  step_ns: 10e9,
  series: [
    { time_unix_nano: '1763700010000000000', count: 0, counted: 0, total: null, uplink: null, server: null, downlink: null },
    {
      time_unix_nano: '1763700000000000000', count: 50, counted: 0,
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

describe('message rates by type', () => {
  const rates: RatesResponse = {
    step_ns: 60e9,
    start_time_unix_nano: '1763700000000000000',
    types: [
      { message_type: 'chat', count: [3, 0, 12], counted: [0, 0, 0], errors: [0, 0, 6] },
      { message_type: '(other)', count: [0, 30, 0], counted: [0, 0, 0], errors: [0, 3, 0] },
    ],
  };

  it('turns counts per step into rates per second, one column per type, x at each step start', () => {
    expect(typeRateSeries(rates, 'count')).toEqual([
      [1763700000, 1763700060, 1763700120],
      [0.05, 0, 0.2],
      [0, 0.5, 0],
    ]);
    expect(typeRateSeries(rates, 'errors').slice(1)).toEqual([
      [0, 0, 0.1],
      [0, 0.05, 0],
    ]);
  });

  it('has no steps when there are no types', () => {
    expect(typeRateSeries({ ...rates, types: [] }, 'count')).toEqual([[]]);
  });

  it('gives the time range behind a step', () => {
    expect(rateStepRange(rates, 1)).toEqual({ start: '1763700060000000000', end: '1763700120000000000' });
    expect(rateStepRange(rates, 3)).toBeNull();
  });
});
