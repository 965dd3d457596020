import { describe, expect, it } from 'vitest';
import { RowLayout } from '../components/VirtualList';
import {
  DEFAULT_LOG_FILTERS,
  histogramApiQuery,
  levelOf,
  liveApiQuery,
  logFiltersFromQuery,
  logFiltersToQuery,
  logsApiQuery,
  logsLink,
  niceStepNs,
  type LogFilters,
} from './logs';

const full: LogFilters = {
  q: '"connection reset" -healthz time*',
  service: 'agent api',
  levels: ['error', 'fatal'],
  since: '',
  start: '2026-11-21T10:00:00Z',
  end: '1763700000000000000',
  traceId: 'ab'.repeat(16),
  spanId: 'cd'.repeat(8),
  sessionId: 's-1&2',
  userId: 'u=17',
  attrs: [['http.route', '/a?b=c']],
  live: true,
};

describe('log filters', () => {
  it('round-trip every field through the page URL and keep defaults out of it', () => {
    expect(logFiltersFromQuery(logFiltersToQuery(full))).toEqual(full);
    expect(logFiltersToQuery(DEFAULT_LOG_FILTERS)).toBe('');
    expect(logFiltersFromQuery('')).toEqual(DEFAULT_LOG_FILTERS);
    expect(logFiltersToQuery({ ...DEFAULT_LOG_FILTERS, levels: ['warn', 'error'] })).toBe('severity=warn&severity=error');
  });

  it('drop unknown severities and read absolute windows without since', () => {
    const f = logFiltersFromQuery('severity=loud&severity=info&start=5');
    expect(f.levels).toEqual(['info']);
    expect(f.since).toBe('');
    expect(f.start).toBe('5');
  });

  it('name the API parameters as the collector does, a relative range as start', () => {
    const q = new URLSearchParams(logsApiQuery({ ...full, since: '1h' }, 3_600_000 + 1000, { limit: 100, cursor: 'c1' }));
    expect(q.get('q')).toBe(full.q);
    expect(q.getAll('severity')).toEqual(['error', 'fatal']);
    expect(q.get('trace_id')).toBe(full.traceId);
    expect(q.get('session_id')).toBe('s-1&2');
    expect(q.get('attr.http.route')).toBe('/a?b=c');
    expect(q.get('start')).toBe('1000000000');
    expect(q.get('end')).toBeNull();
    expect(q.get('limit')).toBe('100');
    expect(q.get('cursor')).toBe('c1');
    expect(q.has('live')).toBe(false);
    const live = new URLSearchParams(liveApiQuery(full));
    expect(live.has('start') || live.has('end') || live.has('limit')).toBe(false);
    expect(new URLSearchParams(histogramApiQuery(full, '1', '2')).get('end')).toBe('2');
  });

  it('link a trace or session to its logs over its time, padded by a minute', () => {
    const f = logFiltersFromQuery(logsLink({ traceId: 'ab' }, '120000000000', '180000000000').split('?')[1]);
    expect(f.traceId).toBe('ab');
    expect([f.since, f.start, f.end]).toEqual(['', '60000000000', '240000000000']);
  });

  it('cut histograms into round steps', () => {
    const s = 1_000_000_000n;
    expect(niceStepNs(3600n * s)).toBe(60n * s);
    expect(niceStepNs(15n * 60n * s)).toBe(15n * s);
    expect(niceStepNs(24n * 3600n * s)).toBe(1800n * s);
    expect(niceStepNs(7n * 86400n * s)).toBe(10800n * s);
    expect(niceStepNs(400n * 86400n * s)).toBe(5n * 86400n * s);
    expect(new URLSearchParams(histogramApiQuery(DEFAULT_LOG_FILTERS, '0', `${3600n * s}`)).get('step')).toBe(`${60n * s}`);
  });

  it('map severity numbers to levels', () => {
    expect([0, 1, 5, 9, 12, 13, 17, 21, 30].map(levelOf)).toEqual([
      'unspecified', 'trace', 'debug', 'info', 'info', 'warn', 'error', 'fatal', 'fatal',
    ]);
  });
});

describe('row layout', () => {
  it('places rows with a few tall ones and finds the row at a position', () => {
    const layout = new RowLayout(10, 20, new Map([[2, 100], [5, 50]]));
    expect([0, 1, 2, 3, 5, 6].map((i) => layout.top(i))).toEqual([0, 20, 40, 140, 180, 230]);
    expect(layout.total()).toBe(10 * 20 + 80 + 30);
    expect(layout.height(2)).toBe(100);
    expect([0, 39, 40, 139, 140, 229, 230, 9999].map((y) => layout.at(y))).toEqual([0, 1, 2, 2, 3, 5, 6, 9]);
  });
});
