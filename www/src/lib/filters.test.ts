import { describe, expect, it } from 'vitest';
import { DEFAULT_FILTERS, filtersFromQuery, filtersToApiQuery, filtersToQuery, type SearchFilters } from './filters';

const full: SearchFilters = {
  service: 'agent api',
  name: 'ws.receive run_agent',
  parentService: 'web app',
  minMs: '5',
  maxMs: '250.5',
  errorsOnly: true,
  since: '',
  start: '2026-11-21T10:00:00Z',
  end: '1763700000000000000',
  sessionId: 's-1&2',
  userId: 'u=17',
  attrs: [['http.route', '/a?b=c'], ['ws.message.type', 'run=agent']],
  limit: '500',
};

describe('URL filters', () => {
  it('round-trip every field through the page URL', () => {
    expect(filtersFromQuery(filtersToQuery(full))).toEqual(full);
    expect(filtersFromQuery(filtersToQuery(DEFAULT_FILTERS))).toEqual(DEFAULT_FILTERS);
  });

  it('keep default values out of the URL', () => {
    expect(filtersToQuery(DEFAULT_FILTERS)).toBe('');
    expect(filtersToQuery({ ...DEFAULT_FILTERS, service: 'web' })).toBe('service=web');
  });

  it('repeat attr for each key=value pair and split at the first =', () => {
    const q = filtersToQuery(full);
    expect(new URLSearchParams(q).getAll('attr')).toEqual(['http.route=/a?b=c', 'ws.message.type=run=agent']);
  });

  it('turn a relative range into an absolute start for the API', () => {
    const q = new URLSearchParams(filtersToApiQuery({ ...DEFAULT_FILTERS, since: '15m' }, 1_763_700_900_000));
    expect(q.get('start')).toBe('1763700000000000000');
    expect(q.has('end')).toBe(false);
    expect(q.get('limit')).toBe('100');
  });

  it('pass absolute times, statuses and the new filters to the API by their API names', () => {
    const q = new URLSearchParams(filtersToApiQuery(full, 0));
    expect(Object.fromEntries([...q.keys()].map((k) => [k, q.getAll(k)]))).toEqual({
      service: ['agent api'], name: ['ws.receive run_agent'], parent_service: ['web app'], min_duration_ms: ['5'],
      max_duration_ms: ['250.5'], status: ['error'], start: ['2026-11-21T10:00:00Z'],
      end: ['1763700000000000000'], session_id: ['s-1&2'], user_id: ['u=17'],
      attr: ['http.route=/a?b=c', 'ws.message.type=run=agent'], limit: ['500'],
    });
  });
});
