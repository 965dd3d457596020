// Span metrics in the UI: the windows the Services pages ask for, sorting an operations table
// by any column, and shaping a series into sparkline points.

import type { CallSummary, Red } from '../api';
import { withQuery } from '../api';
import { millisToNs } from './time';

/** Buckets of a series when the page does not say otherwise. */
export const BUCKETS = 60;

/** A window of `rangeMs` ending on a whole step after now, in `buckets` steps: from an hour up
 * (whole minutes) the collector answers from its per-minute rollups. */
export function alignedWindow(rangeMs: number, buckets = BUCKETS, nowMs = Date.now()) {
  const stepMs = rangeMs / buckets;
  const end = Math.ceil(nowMs / stepMs) * stepMs;
  return { start: millisToNs(end - rangeMs), end: millisToNs(end), step: millisToNs(stepMs) };
}

/** `GET /api/services` over an aligned window of `rangeMs`. */
export function servicesUrl(rangeMs: number, buckets = BUCKETS): string {
  return withQuery('/api/services', alignedWindow(rangeMs, buckets));
}

/** The UI's page of one service. Dots are escaped too: the collector serves paths with a dot
 * as files, not as the UI's pages. */
export function servicePath(name: string): string {
  return `/services/${encodeURIComponent(name).replace(/\./g, '%2E')}`;
}

/** The columns an operations (or services) table sorts by. */
export type SortKey = 'name' | 'calls' | 'errors' | 'error_ratio' | 'rate_per_s' | 'p50_ns' | 'p95_ns' | 'p99_ns';

export const SORT_KEYS: SortKey[] = ['name', 'calls', 'errors', 'error_ratio', 'rate_per_s', 'p50_ns', 'p95_ns', 'p99_ns'];

/** Rows sorted by `key` in its natural order (names A to Z, numbers largest first), or the other
 * way round when `reversed`; missing values (null) last either way, ties by name. */
export function sortRows<T extends CallSummary & { name: string }>(rows: readonly T[], key: SortKey, reversed = false): T[] {
  const byName = (a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const sign = reversed ? -1 : 1;
  return [...rows].sort((a, b) => {
    if (key === 'name') return sign * byName(a, b);
    const x = a[key];
    const y = b[key];
    if (x === null || y === null) return x === y ? byName(a, b) : x === null ? 1 : -1;
    return sign * (y - x) || byName(a, b);
  });
}

/** One value per step of a series: rate, error ratio or p95 (milliseconds); null where the step
 * had no calls. */
export function seriesOf(red: Red, what: 'rate' | 'errors' | 'p95'): (number | null)[] {
  return red.series.map((p) => {
    if (what === 'rate') return p.rate_per_s;
    if (what === 'errors') return p.error_ratio;
    return p.p95_ns === null ? null : p.p95_ns / 1e6;
  });
}

/** Polyline runs (`x,y x,y …`) of `values` drawn in a `width`×`height` box, one run per stretch
 * without gaps; the baseline is 0, the top the largest value. */
export function sparkRuns(values: readonly (number | null)[], width: number, height: number): string[] {
  const max = Math.max(0, ...values.filter((v): v is number => v !== null));
  const dx = values.length > 1 ? width / (values.length - 1) : 0;
  const y = (v: number) => (max > 0 ? height - 1 - (v / max) * (height - 2) : height - 1);
  const runs: string[] = [];
  let run: string[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (run.length) runs.push(run.join(' '));
      run = [];
      return;
    }
    run.push(`${(i * dx).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (run.length) runs.push(run.join(' '));
  return runs;
}

/** A share as a percentage for people: `0%`, `0.25%`, `12.5%`, `–` without calls. */
export function formatRatio(r: number | null): string {
  if (r === null) return '–';
  if (r === 0) return '0%';
  const pct = r * 100;
  return `${pct < 1 ? pct.toFixed(2) : pct.toFixed(1)}%`;
}

/** A rate for people: two decimals, or two significant digits below 0.01/s. */
export function formatRate(v: number): string {
  return `${v && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2)}/s`;
}
