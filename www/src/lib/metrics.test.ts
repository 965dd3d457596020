import { describe, expect, it } from 'vitest';
import type { MetricInfo, MetricSeries } from '../api';
import {
  AGGS,
  catalogUrl,
  chartData,
  choiceQuery,
  effectiveAgg,
  errorHint,
  findMetric,
  formatValue,
  isEmpty,
  parseChoice,
  pickMetric,
  seriesLabel,
  seriesStats,
  seriesUrl,
  seriesWindow,
  valueUnit,
} from './metrics';

const metric = (name: string, type: MetricInfo['type'], keys: string[] = [], services = ['api']): MetricInfo => ({
  name, type, unit: 'ms', description: '', services, attribute_keys: keys,
});

const series = (labels: Record<string, string>, values: (number | null)[]): MetricSeries => ({
  labels,
  points: values.map((value, i) => ({ time_unix_nano: String(1_764_619_200_000_000_000n + BigInt(i) * 60_000_000_000n), value })),
});

describe('metrics explorer', () => {
  it('read back every part of the choice it wrote into the query string', () => {
    const c = {
      name: 'http.server.duration', type: 'histogram' as const, agg: 'p99', service: 'api',
      filters: [['http.route', '/a b&c'], ['method', 'GET']] as [string, string][],
      groupBy: ['http.route', 'service.name'], range: '6h', step: '5m',
    };
    const q = choiceQuery(c);
    expect(q).toBe('?name=http.server.duration&type=histogram&agg=p99&service=api&attr.http.route=%2Fa+b%26c&attr.method=GET&group_by=http.route%2Cservice.name&range=6h&step=5m');
    expect(parseChoice(q)).toEqual(c);
  });

  it('fall back to the defaults for an empty or hand-edited query string', () => {
    expect(parseChoice('')).toEqual({ name: '', type: '', agg: '', service: '', filters: [], groupBy: [], range: '1h', step: '' });
    const c = parseChoice('?name=x&type=bogus&range=3y&step=7s&group_by=a,,a,b&attr.=v');
    expect(c).toMatchObject({ name: 'x', type: '', range: '1h', step: '', groupBy: ['a', 'b'], filters: [] });
    expect(choiceQuery(parseChoice(''))).toBe('');
  });

  it('offer each type only the aggregations the collector takes for it, the default first', () => {
    expect(AGGS.gauge).toEqual(['avg', 'min', 'max', 'sum', 'last']);
    expect(AGGS.sum).toEqual(['rate', 'increase']);
    expect([...AGGS.histogram].sort()).toEqual(['count', 'p50', 'p90', 'p95', 'p99', 'rate']);
    expect(AGGS.exponential_histogram).toEqual(AGGS.histogram);
    expect(AGGS.summary).toEqual(['rate', 'count']);
    expect(effectiveAgg('sum', 'p95')).toBe('rate');
    expect(effectiveAgg('histogram', 'p99')).toBe('p99');
    expect(effectiveAgg('gauge', '')).toBe('avg');
  });

  it('keep the filters, groups and aggregation that still fit when another metric is picked', () => {
    const start = { ...parseChoice('?name=a&type=gauge&agg=max&service=api&attr.route=/x&attr.host=h1&group_by=route,host,service.name') };
    const next = pickMetric(start, metric('b', 'sum', ['route'], ['web']));
    expect(next).toMatchObject({ name: 'b', type: 'sum', agg: '', service: '', filters: [['route', '/x']], groupBy: ['route', 'service.name'] });
    const metrics = [metric('a', 'gauge'), metric('a', 'sum'), metric('b', 'sum')];
    expect(findMetric(metrics, { name: 'a', type: 'sum' })?.type).toBe('sum');
    expect(findMetric(metrics, { name: 'a', type: '' })?.type).toBe('gauge');
    expect(findMetric(metrics, { name: 'c', type: '' })).toBeUndefined();
  });

  it('ask for a window that ends on a whole step, with the chosen step or about sixty', () => {
    const now = 1_764_619_230_000;
    expect(seriesWindow({ range: '1h', step: '' }, now)).toEqual({ start: '1764615660000000000', end: '1764619260000000000', step: '60000000000' });
    expect(seriesWindow({ range: '5m', step: '10s' }, now + 5_000)).toEqual({ start: '1764618940000000000', end: '1764619240000000000', step: '10000000000' });
  });

  it('build the series request with the type, the effective aggregation and every filter', () => {
    const c = parseChoice('?name=req&type=sum&agg=p50&attr.route=/a&attr.route=/b&group_by=route');
    const url = seriesUrl(c, 'sum', { start: '1', end: '2', step: '3' });
    expect(url).toBe('/api/metrics/series?name=req&type=sum&agg=rate&group_by=route&start=1&end=2&step=3&attr.route=%2Fa&attr.route=%2Fb');
    // A name the catalogue does not know goes without a type, for the collector to explain.
    expect(seriesUrl(parseChoice('?name=gone'), '', { start: '1', end: '2', step: '3' })).toBe('/api/metrics/series?name=gone&start=1&end=2&step=3');
    expect(catalogUrl('7d', 1_000_000)).toBe(`/api/metrics?start=${(1_000_000n - 7n * 86_400_000n) * 1_000_000n}`);
  });

  it('shape series into chart columns with gaps, labels and figures', () => {
    const s = [series({ route: '/a', method: 'GET' }, [1, null, 3]), series({}, [null, null, null])];
    const d = chartData(s);
    expect(d.xs).toEqual([1_764_619_200, 1_764_619_260, 1_764_619_320]);
    expect(d.columns).toEqual([[1, null, 3], [null, null, null]]);
    expect(d.labels).toEqual(['route=/a, method=GET', 'all']);
    expect(seriesLabel({})).toBe('all');
    expect(seriesStats(s[0])).toEqual({ label: 'route=/a, method=GET', steps: 2, last: 3, min: 1, max: 3, mean: 2 });
    expect(seriesStats(s[1])).toMatchObject({ steps: 0, last: null, mean: null });
    expect(isEmpty(s)).toBe(false);
    expect(isEmpty([s[1]])).toBe(true);
    expect(isEmpty([])).toBe(true);
  });

  it('name the unit of what each aggregation gives', () => {
    expect(valueUnit('sum', 'By', 'rate')).toBe('By/s');
    expect(valueUnit('sum', '', 'rate')).toBe('/s');
    expect(valueUnit('sum', 'By', 'increase')).toBe('By');
    expect(valueUnit('histogram', 'ms', 'p95')).toBe('ms');
    expect(valueUnit('histogram', 'ms', 'rate')).toBe('observations/s');
    expect(valueUnit('summary', 'ms', 'count')).toBe('observations');
  });

  it('format values and explain the collector refusals', () => {
    expect([formatValue(null), formatValue(0), formatValue(0.5), formatValue(1234.5678), formatValue(2e-7)]).toEqual(['–', '0', '0.5', '1235', '2.000e-7']);
    expect(errorHint('invalid_step')).toMatch(/larger step/);
    expect(errorHint('unknown_metric')).toMatch(/longer range/);
    expect(errorHint('internal')).toBeNull();
  });
});
