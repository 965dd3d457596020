// The Logs page's filters, kept in the page URL so a search can be shared and reloaded, turned
// into the query strings of `GET /api/logs`, `/api/logs/histogram` and `/api/logs/live`; and
// severity levels with their colours.

import { RANGES, millisToNs } from './time';

/** Severity levels as the API names them, most severe first. */
export const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'unspecified'] as const;
export type Level = (typeof LEVELS)[number];

/** The level of an OpenTelemetry severity number, as the collector maps it. */
export function levelOf(severityNumber: number): Level {
  if (severityNumber <= 0) return 'unspecified';
  if (severityNumber <= 4) return 'trace';
  if (severityNumber <= 8) return 'debug';
  if (severityNumber <= 12) return 'info';
  if (severityNumber <= 16) return 'warn';
  if (severityNumber <= 20) return 'error';
  return 'fatal';
}

/** Colours that read on both themes; errors stand out, chatter recedes. */
export const LEVEL_COLORS: Record<Level, string> = {
  fatal: '#8e1b6b',
  error: '#d93636',
  warn: '#d4a106',
  info: '#2f7de1',
  debug: '#1aa3b8',
  trace: '#8a6ae6',
  unspecified: '#8a8f98',
};

export interface LogFilters {
  q: string;
  service: string;
  /** Levels to show; none means all. */
  levels: Level[];
  /** A key of `RANGES` (relative to now), or '' for absolute `start`/`end`. */
  since: string;
  /** Unix nanoseconds or RFC 3339, passed to the API as given. */
  start: string;
  end: string;
  traceId: string;
  spanId: string;
  sessionId: string;
  userId: string;
  /** `key=value` pairs of log attributes. */
  attrs: [string, string][];
  /** Stream new records as they are stored. */
  live: boolean;
}

export const DEFAULT_LOG_FILTERS: LogFilters = {
  q: '',
  service: '',
  levels: [],
  since: '1h',
  start: '',
  end: '',
  traceId: '',
  spanId: '',
  sessionId: '',
  userId: '',
  attrs: [],
  live: false,
};

/** Reads filters from a page query string; absent keys take defaults. */
export function logFiltersFromQuery(query: string): LogFilters {
  const q = new URLSearchParams(query);
  const get = (k: string) => q.get(k) ?? '';
  const attrs: [string, string][] = [];
  for (const [k, v] of q) if (k.startsWith('attr.') && k.length > 5) attrs.push([k.slice(5), v]);
  const hasAbsolute = q.has('start') || q.has('end');
  return {
    q: get('q'),
    service: get('service'),
    levels: q.getAll('severity').filter((l): l is Level => (LEVELS as readonly string[]).includes(l)),
    since: q.get('since') ?? (hasAbsolute ? '' : DEFAULT_LOG_FILTERS.since),
    start: get('start'),
    end: get('end'),
    traceId: get('trace_id'),
    spanId: get('span_id'),
    sessionId: get('session_id'),
    userId: get('user_id'),
    attrs,
    live: q.get('live') === '1',
  };
}

/** The record filters as API parameters (the same on all three endpoints). */
function filterParams(f: LogFilters): URLSearchParams {
  const q = new URLSearchParams();
  const set = (k: string, v: string) => {
    if (v.trim() !== '') q.set(k, v.trim());
  };
  set('q', f.q);
  set('service', f.service);
  for (const l of f.levels) q.append('severity', l);
  set('trace_id', f.traceId);
  set('span_id', f.spanId);
  set('session_id', f.sessionId);
  set('user_id', f.userId);
  for (const [k, v] of f.attrs) if (k.trim()) q.append(`attr.${k.trim()}`, v);
  return q;
}

/** The page query string for `f`, leaving out defaults so URLs stay short. */
export function logFiltersToQuery(f: LogFilters): string {
  const q = filterParams(f);
  if (f.since !== DEFAULT_LOG_FILTERS.since) q.set('since', f.since);
  if (f.since === '') {
    if (f.start.trim()) q.set('start', f.start.trim());
    if (f.end.trim()) q.set('end', f.end.trim());
  }
  if (f.live) q.set('live', '1');
  return q.toString();
}

/** The window of `f` in unix nanoseconds (null: open), a relative range measured from `nowMs`. */
export function logWindow(f: LogFilters, nowMs: number): { start: string | null; end: string | null } {
  const range = RANGES[f.since];
  if (range !== undefined) return { start: millisToNs(nowMs - range), end: null };
  return { start: f.start.trim() || null, end: f.end.trim() || null };
}

/** The `GET /api/logs` query string of a page. */
export function logsApiQuery(f: LogFilters, nowMs: number, opts: { limit?: number; cursor?: string } = {}): string {
  const q = filterParams(f);
  const w = logWindow(f, nowMs);
  if (w.start) q.set('start', w.start);
  if (w.end) q.set('end', w.end);
  if (opts.limit) q.set('limit', String(opts.limit));
  if (opts.cursor) q.set('cursor', opts.cursor);
  return q.toString();
}

/** Step lengths a histogram uses, in seconds: round ones a reader can count in. */
const STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** The roundest step that cuts a window of `windowNs` into at most `bars` bars, in nanoseconds. */
export function niceStepNs(windowNs: bigint, bars = 80): bigint {
  for (const s of STEPS_S) {
    const step = BigInt(s) * 1_000_000_000n;
    if (windowNs <= step * BigInt(bars)) return step;
  }
  const day = 86_400_000_000_000n;
  return ((windowNs / BigInt(bars) + day - 1n) / day) * day;
}

/** The `GET /api/logs/histogram` query string over `[start, end)` (unix nanoseconds). */
export function histogramApiQuery(f: LogFilters, start: string, end: string): string {
  const q = filterParams(f);
  q.set('start', start);
  q.set('end', end);
  q.set('step', niceStepNs(BigInt(end) - BigInt(start)).toString());
  return q.toString();
}

/** The `GET /api/logs/live` query string: the filters only. */
export function liveApiQuery(f: LogFilters): string {
  return filterParams(f).toString();
}

/** The page URL of the logs of one trace or session, over a window padded by a minute. */
export function logsLink(filter: { traceId?: string; sessionId?: string }, startNs: string, endNs: string): string {
  const pad = 60_000_000_000n;
  const f: LogFilters = {
    ...DEFAULT_LOG_FILTERS,
    traceId: filter.traceId ?? '',
    sessionId: filter.sessionId ?? '',
    since: '',
    start: (BigInt(startNs) - pad).toString(),
    end: (BigInt(endNs) + pad).toString(),
  };
  return `/logs?${logFiltersToQuery(f)}`;
}
