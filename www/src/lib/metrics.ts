// The Metrics explorer's pure logic: the aggregations each metric type takes, the page's choice
// as a query string (so a reload or a shared link restores it), the series request, and the
// series answer shaped for the chart and the data table.

import type { MetricInfo, MetricSeries, MetricType } from '../api';
import { withQuery } from '../api';
import { RANGES, millisToNs, nsToSeconds } from './time';

/** What each type takes, as `GET /api/metrics/series` accepts it; the first is the default. */
export const AGGS: Record<MetricType, readonly string[]> = {
  gauge: ['avg', 'min', 'max', 'sum', 'last'],
  sum: ['rate', 'increase'],
  histogram: ['p95', 'p50', 'p90', 'p99', 'count', 'rate'],
  exponential_histogram: ['p95', 'p50', 'p90', 'p99', 'count', 'rate'],
  summary: ['rate', 'count'],
};

/** Words for each aggregation, for the picker. */
export const AGG_LABELS: Record<string, string> = {
  avg: 'average',
  min: 'minimum',
  max: 'maximum',
  sum: 'sum',
  last: 'last value',
  rate: 'rate per second',
  increase: 'increase',
  p50: 'p50 (median)',
  p90: 'p90',
  p95: 'p95',
  p99: 'p99',
  count: 'count of observations',
};

/** The steps the page offers besides `auto` (about 60 steps over the range), in milliseconds. */
export const STEPS: Record<string, number> = {
  '10s': 10e3,
  '30s': 30e3,
  '1m': 60e3,
  '5m': 300e3,
  '15m': 900e3,
  '1h': 3600e3,
};

/** Steps a series has when the page does not choose one. */
export const AUTO_STEPS = 60;

/** The group-by key that means the reporting service. */
export const SERVICE_KEY = 'service.name';

/** Everything the page shows, as read from (and written to) its query string. */
export interface MetricsChoice {
  /** The metric's name; '' before one is picked. */
  name: string;
  /** Its type, when the page knows it (a name may be stored as several types). */
  type: MetricType | '';
  /** '' for the type's default. */
  agg: string;
  service: string;
  /** `attr.K=V` filters, in the order they were added. */
  filters: [string, string][];
  groupBy: string[];
  /** A key of `RANGES`. */
  range: string;
  /** A key of `STEPS`, or '' for auto. */
  step: string;
}

export const DEFAULT_RANGE = '1h';

const TYPES = Object.keys(AGGS) as MetricType[];

/** The choice in a query string (`?name=&type=&agg=&service=&attr.K=V&group_by=a,b&range=&step=`);
 * values it does not know fall back to the defaults. */
export function parseChoice(search: string): MetricsChoice {
  const q = new URLSearchParams(search);
  const type = q.get('type') ?? '';
  const range = q.get('range') ?? '';
  const step = q.get('step') ?? '';
  const filters: [string, string][] = [];
  for (const [k, v] of q) if (k.startsWith('attr.') && k.length > 5) filters.push([k.slice(5), v]);
  return {
    name: q.get('name') ?? '',
    type: (TYPES as string[]).includes(type) ? (type as MetricType) : '',
    agg: q.get('agg') ?? '',
    service: q.get('service') ?? '',
    filters,
    groupBy: (q.get('group_by') ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter((k, i, all) => k && all.indexOf(k) === i),
    range: RANGES[range] ? range : DEFAULT_RANGE,
    step: STEPS[step] ? step : '',
  };
}

/** The choice as a query string (with `?`, or '' when everything is a default): the inverse of
 * `parseChoice`. */
export function choiceQuery(c: MetricsChoice): string {
  const q = new URLSearchParams();
  if (c.name) q.set('name', c.name);
  if (c.name && c.type) q.set('type', c.type);
  if (c.agg) q.set('agg', c.agg);
  if (c.service) q.set('service', c.service);
  for (const [k, v] of c.filters) q.append(`attr.${k}`, v);
  if (c.groupBy.length) q.set('group_by', c.groupBy.join(','));
  if (c.range !== DEFAULT_RANGE) q.set('range', c.range);
  if (c.step) q.set('step', c.step);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The aggregation to ask for: the chosen one when the type takes it, else the type's default. */
export function effectiveAgg(type: MetricType, agg: string): string {
  return AGGS[type].includes(agg) ? agg : AGGS[type][0];
}

/** The metric the choice names, among the catalogue's: by name and type, or by name alone when
 * the type is not given. */
export function findMetric(metrics: readonly MetricInfo[], c: Pick<MetricsChoice, 'name' | 'type'>): MetricInfo | undefined {
  return metrics.find((m) => m.name === c.name && (!c.type || m.type === c.type));
}

/** The choice after picking another metric: its type, the default aggregation, and only the
 * filters and groupings the new metric has keys for. */
export function pickMetric(c: MetricsChoice, m: MetricInfo): MetricsChoice {
  const keys = new Set([...m.attribute_keys, SERVICE_KEY]);
  return {
    ...c,
    name: m.name,
    type: m.type,
    agg: AGGS[m.type].includes(c.agg) ? c.agg : '',
    service: m.services.includes(c.service) ? c.service : '',
    filters: c.filters.filter(([k]) => keys.has(k)),
    groupBy: c.groupBy.filter((k) => keys.has(k)),
  };
}

/** The window of a series: `range` back from now, ending on a whole step, in `step` steps (about
 * 60 when auto). Nanosecond strings, as the API takes them. */
export function seriesWindow(c: Pick<MetricsChoice, 'range' | 'step'>, nowMs = Date.now()) {
  const rangeMs = RANGES[c.range] ?? RANGES[DEFAULT_RANGE];
  const stepMs = STEPS[c.step] ?? Math.max(1e3, rangeMs / AUTO_STEPS);
  const end = Math.ceil(nowMs / stepMs) * stepMs;
  return { start: millisToNs(end - rangeMs), end: millisToNs(end), step: millisToNs(stepMs) };
}

/** `GET /api/metrics/series` for the choice over `win`; the filters in the order chosen. */
export function seriesUrl(c: MetricsChoice, type: MetricType | '', win: { start: string; end: string; step: string }): string {
  const params: Record<string, string> = {
    name: c.name,
    type,
    // Without a type (a name the catalogue does not know), the collector picks the default.
    agg: type ? effectiveAgg(type, c.agg) : c.agg,
    service: c.service,
    group_by: c.groupBy.join(','),
    start: win.start,
    end: win.end,
    step: win.step,
  };
  let url = withQuery('/api/metrics/series', params);
  for (const [k, v] of c.filters) url += `&${encodeURIComponent(`attr.${k}`)}=${encodeURIComponent(v)}`;
  return url;
}

/** `GET /api/metrics` over at least the last day, or the whole range when it is longer. */
export function catalogUrl(range: string, nowMs = Date.now()): string {
  const ms = Math.max(RANGES[range] ?? 0, RANGES['24h']);
  return withQuery('/api/metrics', { start: millisToNs(nowMs - ms) });
}

/** A series' name for people: `route=/a, method=GET`, or `all` for the one series of no group. */
export function seriesLabel(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(', ') : 'all';
}

/** The unit of the values `agg` gives of a metric of `type` in `unit`: counts and rates of
 * histograms and summaries are of observations, a sum's rate is its unit per second. */
export function valueUnit(type: MetricType, unit: string, agg: string): string {
  const observations = type !== 'sum' && type !== 'gauge';
  if (agg === 'count') return 'observations';
  if (agg === 'rate') return observations ? 'observations/s' : unit ? `${unit}/s` : '/s';
  return unit;
}

/** The answer as uPlot's aligned columns (x in unix seconds, then one column per series; null is
 * a gap), with one label per series. Every series has the same steps. */
export function chartData(series: readonly MetricSeries[]): { xs: number[]; columns: (number | null)[][]; labels: string[] } {
  const xs = (series[0]?.points ?? []).map((p) => nsToSeconds(p.time_unix_nano));
  return {
    xs,
    columns: series.map((s) => s.points.map((p) => (p.value === null || !Number.isFinite(p.value) ? null : p.value))),
    labels: series.map((s) => seriesLabel(s.labels)),
  };
}

/** Per series: how many steps have a value, the last one, and the least, most and mean. */
export interface SeriesStats {
  label: string;
  steps: number;
  last: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
}

export function seriesStats(s: MetricSeries): SeriesStats {
  const values = s.points.map((p) => p.value).filter((v): v is number => v !== null && Number.isFinite(v));
  const last = [...s.points].reverse().find((p) => p.value !== null)?.value ?? null;
  return {
    label: seriesLabel(s.labels),
    steps: values.length,
    last,
    min: values.length ? Math.min(...values) : null,
    max: values.length ? Math.max(...values) : null,
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
  };
}

/** True when no series has a value in any step. */
export function isEmpty(series: readonly MetricSeries[]): boolean {
  return series.every((s) => s.points.every((p) => p.value === null));
}

/** A value for the data table: up to four significant digits, no exponent for everyday sizes. */
export function formatValue(v: number | null): string {
  if (v === null) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e15 || a < 1e-4) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

/** What to do about a 400 of the series endpoint, by its code, beside the collector's message. */
export function errorHint(code: string): string | null {
  switch (code) {
    case 'unknown_metric':
      return 'The metric has no points in or shortly before this time range: choose a longer range or another metric.';
    case 'invalid_step':
      return 'Too many steps for this range: choose a larger step or a shorter range.';
    case 'type_mismatch':
    case 'invalid_agg':
      return 'Choose one of the aggregations this metric offers.';
    case 'too_many_points':
      return 'Narrow the range, or filter by service or attribute.';
    case 'invalid_attribute':
      return 'Remove the filter whose key is not accepted.';
    default:
      return null;
  }
}
