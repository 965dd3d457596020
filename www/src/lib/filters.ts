// The search page's filters, kept in the page URL so a search can be shared and reloaded, and
// turned into the query string of `GET /api/traces`.

import { RANGES, millisToNs } from './time';

export interface SearchFilters {
  service: string;
  name: string;
  /** Only spans whose parent span is of this service (the calls of one dependency). */
  parentService: string;
  /** Milliseconds, as typed. */
  minMs: string;
  maxMs: string;
  errorsOnly: boolean;
  /** A key of `RANGES` (relative to now), or '' for absolute `start`/`end` or no limit. */
  since: string;
  /** Unix nanoseconds or RFC 3339, passed to the API as given. */
  start: string;
  end: string;
  sessionId: string;
  userId: string;
  /** `key=value` pairs. */
  attrs: [string, string][];
  limit: string;
}

export const DEFAULT_FILTERS: SearchFilters = {
  service: '',
  name: '',
  parentService: '',
  minMs: '',
  maxMs: '',
  errorsOnly: false,
  since: '1h',
  start: '',
  end: '',
  sessionId: '',
  userId: '',
  attrs: [],
  limit: '100',
};

/** Reads filters from a page query string (`?service=…&attr=k=v…`); absent keys take defaults. */
export function filtersFromQuery(query: string): SearchFilters {
  const q = new URLSearchParams(query);
  const get = (k: string, d: string) => q.get(k) ?? d;
  const attrs: [string, string][] = [];
  for (const a of q.getAll('attr')) {
    const eq = a.indexOf('=');
    if (eq > 0) attrs.push([a.slice(0, eq), a.slice(eq + 1)]);
  }
  const hasAbsolute = q.has('start') || q.has('end');
  return {
    service: get('service', ''),
    name: get('name', ''),
    parentService: get('parent_service', ''),
    minMs: get('min_duration_ms', ''),
    maxMs: get('max_duration_ms', ''),
    errorsOnly: q.get('status') === 'error',
    since: get('since', hasAbsolute ? '' : DEFAULT_FILTERS.since),
    start: get('start', ''),
    end: get('end', ''),
    sessionId: get('session_id', ''),
    userId: get('user_id', ''),
    attrs,
    limit: get('limit', DEFAULT_FILTERS.limit),
  };
}

/** The page query string for `f`, leaving out defaults so URLs stay short. */
export function filtersToQuery(f: SearchFilters): string {
  const q = new URLSearchParams();
  const set = (k: string, v: string, d = '') => {
    if (v !== d) q.set(k, v);
  };
  set('service', f.service);
  set('name', f.name);
  set('parent_service', f.parentService);
  set('min_duration_ms', f.minMs);
  set('max_duration_ms', f.maxMs);
  if (f.errorsOnly) q.set('status', 'error');
  if (f.since !== DEFAULT_FILTERS.since) q.set('since', f.since);
  set('start', f.start);
  set('end', f.end);
  set('session_id', f.sessionId);
  set('user_id', f.userId);
  for (const [k, v] of f.attrs) if (k) q.append('attr', `${k}=${v}`);
  set('limit', f.limit, DEFAULT_FILTERS.limit);
  return q.toString();
}

/** The `GET /api/traces` query string; a relative range becomes `start` measured from `nowMs`. */
export function filtersToApiQuery(f: SearchFilters, nowMs: number): string {
  const q = new URLSearchParams();
  const set = (k: string, v: string) => {
    if (v.trim() !== '') q.set(k, v.trim());
  };
  set('service', f.service);
  set('name', f.name);
  set('parent_service', f.parentService);
  set('min_duration_ms', f.minMs);
  set('max_duration_ms', f.maxMs);
  if (f.errorsOnly) q.set('status', 'error');
  const range = RANGES[f.since];
  if (range !== undefined) {
    q.set('start', millisToNs(nowMs - range));
  } else {
    set('start', f.start);
    set('end', f.end);
  }
  set('session_id', f.sessionId);
  set('user_id', f.userId);
  for (const [k, v] of f.attrs) if (k.trim()) q.append('attr', `${k.trim()}=${v}`);
  set('limit', f.limit);
  return q.toString();
}
