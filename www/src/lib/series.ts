// Shapes the collector's latency buckets and message counts into uPlot's aligned columns: x in
// unix seconds, latencies in milliseconds with null where a bucket had no sample (uPlot leaves a
// gap there), counts as rates per second.

import type { LatencyResponse, RatesResponse } from '../api';
import { addNs, nsToSeconds } from './time';

export type LatencyMetric = 'total' | 'uplink' | 'server' | 'downlink';

export const METRICS: { key: LatencyMetric; label: string }[] = [
  { key: 'total', label: 'Round trip' },
  { key: 'uplink', label: 'Uplink' },
  { key: 'server', label: 'Server' },
  { key: 'downlink', label: 'Downlink' },
];

export type Column = (number | null)[];

function sorted(resp: LatencyResponse) {
  return [...resp.series].sort((a, b) => {
    const x = BigInt(a.time_unix_nano);
    const y = BigInt(b.time_unix_nano);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** `[x, p50, p95, p99]` for one metric. */
export function percentileSeries(resp: LatencyResponse, metric: LatencyMetric): [number[], Column, Column, Column] {
  const buckets = sorted(resp);
  const ms = (v: number | undefined) => (v === undefined || v === null || !Number.isFinite(v) ? null : v / 1e6);
  return [
    buckets.map((b) => nsToSeconds(b.time_unix_nano)),
    buckets.map((b) => ms(b[metric]?.p50)),
    buckets.map((b) => ms(b[metric]?.p95)),
    buckets.map((b) => ms(b[metric]?.p99)),
  ];
}

/** `[x, messages per second]`: each bucket's count over its width. */
export function rateSeries(resp: LatencyResponse): [number[], Column] {
  const buckets = sorted(resp);
  const stepS = resp.step_ns > 0 ? resp.step_ns / 1e9 : 1;
  return [buckets.map((b) => nsToSeconds(b.time_unix_nano)), buckets.map((b) => b.count / stepS)];
}

/** Whether any bucket of any metric has a sample. */
export function hasSamples(resp: LatencyResponse): boolean {
  return resp.series.some((b) => b.count > 0 || b.total || b.uplink || b.server || b.downlink);
}

/** The time range `[start, end)` of the bucket drawn at index `i` of the shaped series. */
export function bucketRange(resp: LatencyResponse, i: number): { start: string; end: string } | null {
  const b = sorted(resp)[i];
  if (!b) return null;
  return { start: b.time_unix_nano, end: addNs(b.time_unix_nano, resp.step_ns) };
}

/** `[x, one column per message type]`: messages, or failed messages, per second in each step. */
export function typeRateSeries(resp: RatesResponse, what: 'count' | 'errors'): [number[], ...number[][]] {
  const stepS = resp.step_ns > 0 ? resp.step_ns / 1e9 : 1;
  const steps = resp.types[0]?.count.length ?? 0;
  const xs = Array.from({ length: steps }, (_, i) => nsToSeconds(addNs(resp.start_time_unix_nano, i * resp.step_ns)));
  return [xs, ...resp.types.map((t) => t[what].map((n) => n / stepS))];
}

/** The time range `[start, end)` of step `i` of a rates answer. */
export function rateStepRange(resp: RatesResponse, i: number): { start: string; end: string } | null {
  if (i < 0 || i >= (resp.types[0]?.count.length ?? 0)) return null;
  const start = addNs(resp.start_time_unix_nano, i * resp.step_ns);
  return { start, end: addNs(start, resp.step_ns) };
}
