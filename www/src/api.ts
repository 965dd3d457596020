// The collector's query API, typed as documented in docs/query-api.md and in the
// WebSocket/session endpoints' contract. Every call goes to the same origin that served the UI,
// with the read token when the collector has an access file (see auth.ts).

import { authHeaders, unauthorized } from './auth';
import type { UnixNanos } from './lib/time';

export type Attributes = Record<string, string>;

export interface SpanEvent {
  time_unix_nano: UnixNanos;
  name: string;
  attributes: Attributes;
}

export interface SpanLink {
  trace_id: string;
  span_id: string;
  trace_state: string;
  attributes: Attributes;
}

export type SpanKind = 'Server' | 'Client' | 'Producer' | 'Consumer' | 'Internal' | 'Unspecified';
export type StatusCode = 'Unset' | 'Ok' | 'Error';

export interface Span {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  trace_state: string;
  name: string;
  kind: SpanKind;
  service_name: string;
  start_time_unix_nano: UnixNanos;
  end_time_unix_nano: UnixNanos;
  duration_ns: number;
  status_code: StatusCode;
  status_message: string;
  attributes: Attributes;
  resource_attributes: Attributes;
  scope_name: string;
  scope_version: string;
  events: SpanEvent[];
  links: SpanLink[];
  /** Added by the correlation step; absent on older collectors. */
  source?: 'browser' | 'backend';
  clock_offset_ns?: number;
  /** How far the true offset may be from `clock_offset_ns`; null when not known. */
  clock_offset_uncertainty_ns?: number | null;
  corrected_start_time_unix_nano?: UnixNanos;
  corrected_end_time_unix_nano?: UnixNanos;
}

export interface Trace {
  trace_id: string;
  spans: Span[];
}

export interface TraceSummary {
  trace_id: string;
  root_service: string;
  root_name: string;
  start_time_unix_nano: UnixNanos;
  duration_ns: number;
  span_count: number;
  has_error: boolean;
}

export interface Service {
  name: string;
  span_count: number;
  last_seen_unix_nano: UnixNanos;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface LatencyBucket {
  time_unix_nano: UnixNanos;
  /** Round trips: traced ones and sends the browser counted without a span. */
  count: number;
  /** The part of `count` counted without a span (in `total`'s percentiles, not in the legs'). */
  counted: number;
  total: Percentiles | null;
  uplink: Percentiles | null;
  server: Percentiles | null;
  downlink: Percentiles | null;
}

export interface LatencyResponse {
  step_ns: number;
  series: LatencyBucket[];
}

export interface MessageType {
  message_type: string;
  /** `traced` + `counted`. */
  count: number;
  /** Messages with a trace. */
  traced: number;
  /** Messages the browser SDK counted without a span (beyond its allowance, or sampled out). */
  counted: number;
  errors: number;
  rate_per_s: number;
  p50_total_ns: number | null;
  p95_total_ns: number | null;
  example_trace_id: string | null;
  slowest_trace_id: string | null;
}

export interface MessageTypesResponse {
  types: MessageType[];
  /** Items the browser SDK dropped in the window (its queue was full). */
  dropped: number;
}

/** One message type's messages and failed messages per step, from the answer's start. */
export interface TypeRates {
  message_type: string;
  count: number[];
  /** The part of `count` counted without a span. */
  counted: number[];
  errors: number[];
}

export interface RatesResponse {
  step_ns: number;
  start_time_unix_nano: UnixNanos;
  /** The busiest types first; beyond ten, the rest are summed as `(other)`. */
  types: TypeRates[];
}

export interface RoundTrip {
  trace_id: string;
  send_span_id: string;
  server_span_id: string;
  receive_span_id: string | null;
  session_id: string | null;
  user_id: string | null;
  url: string | null;
  message_type: string | null;
  service: string;
  server_service: string;
  client_send_time_unix_nano: UnixNanos;
  server_receive_time_unix_nano: UnixNanos;
  server_done_time_unix_nano: UnixNanos;
  client_receive_time_unix_nano: UnixNanos | null;
  total_ns: number | null;
  uplink_ns: number;
  server_ns: number;
  downlink_ns: number | null;
  client_processing_ns: number | null;
  clock_offset_ns: number;
  error: boolean;
}

export interface HotEndpoints {
  window_ns: number;
  routes: { route: string; requests: number; rate_per_s: number; sessions: number }[];
  sessions: { session_id: string; route: string; requests: number; rate_per_s: number }[];
}

/** The contract's four kinds; the collector also reports other spans (`span`) and logs (`log`). */
export type SessionEventKind = 'message' | 'request' | 'error' | 'connection' | 'span' | 'log';

export interface SessionEvent {
  time_unix_nano: UnixNanos;
  kind: SessionEventKind;
  name: string;
  trace_id: string;
  span_id: string;
  duration_ns: number;
  status_code: StatusCode;
  attributes: Attributes;
}

export interface Session {
  session_id: string;
  user_id: string;
  clock_offset_ns: number;
  /** The true offset is within this many nanoseconds of `clock_offset_ns`; null when the
   * estimate predates the uncertainty (older collectors) or there is none. */
  clock_offset_uncertainty_ns?: number | null;
  clock_offset_samples: number;
  start_time_unix_nano: UnixNanos;
  end_time_unix_nano: UnixNanos;
  events: SessionEvent[];
}

/** One message of the `/api/live` WebSocket. */
export interface LiveSpan {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: SpanKind;
  service_name: string;
  source: 'browser' | 'backend';
  start_time_unix_nano: UnixNanos;
  duration_ns: number;
  status_code: StatusCode;
}

/** One log record of `GET /api/logs` and of each `/api/logs/live` message. */
export interface LogRecord {
  time_unix_nano: UnixNanos;
  observed_time_unix_nano: UnixNanos;
  severity_number: number;
  severity_text: string;
  service_name: string;
  body: string;
  /** Empty when the record is in no trace. */
  trace_id: string;
  span_id: string;
  attributes: Attributes;
  resource_attributes: Attributes;
  scope_name: string;
  scope_version: string;
  event_name: string;
}

export interface LogPage {
  logs: LogRecord[];
  /** Pass back as `cursor` for the next (older) page; null on the last one. */
  next_cursor: string | null;
}

export interface LogHistogram {
  step_ns: number;
  start_time_unix_nano: UnixNanos;
  end_time_unix_nano: UnixNanos;
  total: number;
  /** Levels with at least one record, least severe first; one count per step from the start. */
  severities: { severity: string; count: number[] }[];
}

/** An API answer that is not a 2xx: the collector's `{"error": {code, message}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** GETs `path` (with its query string) and parses the JSON answer. */
export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return call<T>(path, { signal, headers: { accept: 'application/json', ...authHeaders() } });
}

/** Sends `body` as JSON with `method` (POST, PUT) or, without a body, DELETE; the JSON answer, or null for 204. */
export async function sendJson<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T | null> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (body !== undefined) headers['content-type'] = 'application/json';
  return call<T | null>(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

async function call<T>(path: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'unreachable', 'The collector did not answer. Is it still running?');
  }
  if (res.status === 401) unauthorized();
  if (!res.ok) {
    let code = `http_${res.status}`;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { error?: { code?: string; message?: string } };
      if (body.error?.code) code = body.error.code;
      if (body.error?.message) message = body.error.message;
    } catch {
      // Not our JSON error shape (e.g. a proxy's page); the status line says enough.
    }
    throw new ApiError(res.status, code, message);
  }
  if (res.status === 204) return null as T;
  return (await res.json()) as T;
}

/** Builds `path?query` from the non-empty entries of `params` (arrays repeat the key). */
export function withQuery(path: string, params: Record<string, string | string[] | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((item) => q.append(k, item));
    else if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Calls, errors, rate and latency of SERVER and CONSUMER spans over a span of time. */
export interface CallSummary {
  calls: number;
  errors: number;
  /** null without calls. */
  error_ratio: number | null;
  rate_per_s: number;
  p50_ns: number | null;
  p95_ns: number | null;
  p99_ns: number | null;
}

/** One step of a span-metrics series. */
export interface CallPoint extends CallSummary {
  time_unix_nano: UnixNanos;
}

/** A window's summary and its series per step. */
export interface Red extends CallSummary {
  series: CallPoint[];
}

/** One row of `GET /api/services` with its span metrics over the requested window. */
export interface ServiceRed extends Service, Red {
  source: 'browser' | 'backend';
}

/** One operation of `GET /api/services/{service}/operations`. */
export interface Operation extends Red {
  name: string;
}

/** One edge of `GET /api/dependencies`: calls from one service to another. */
export interface Edge {
  from: string;
  to: string;
  calls: number;
  errors: number;
  p95_ns: number | null;
}

/** An alert's state (docs/alerts.md). */
export type AlertState = 'inactive' | 'pending' | 'firing' | 'resolved';

/** One rule of `GET /api/alerts`, with its current state. */
export interface AlertRule {
  name: string;
  source: 'file' | 'api';
  condition: Record<string, unknown> & { kind: string };
  window: string;
  op: string;
  threshold: number;
  for: string;
  severity: string;
  labels: Attributes;
  channels: string[];
  state: AlertState;
  value: number | null;
  /** null before the first evaluation. */
  last_change_unix_nano: UnixNanos | null;
  evaluated_unix_nano: UnixNanos | null;
}

/** One alert (a rule's instance) that is not inactive. */
export interface Alert {
  rule: string;
  key: string;
  state: AlertState;
  value: number | null;
  labels: Attributes;
  summary: string;
  since_unix_nano: UnixNanos;
  active_since_unix_nano: UnixNanos | null;
  trace_id: string | null;
  session_id: string | null;
}

/** One transition of `GET /api/alerts/history`. */
export interface AlertTransition {
  time_unix_nano: UnixNanos;
  rule: string;
  key: string;
  from: AlertState;
  to: AlertState;
  value: number | null;
  labels: Attributes;
  summary: string;
  trace_id: string | null;
  session_id: string | null;
}

/** A silence of `GET /api/alerts/silences`. */
export interface Silence {
  id: string;
  matchers: { name: string; value: string; equal?: boolean }[];
  starts_unix_nano: UnixNanos;
  ends_unix_nano: UnixNanos;
  comment: string;
}

/** A metric's type as `GET /api/metrics` names it. */
export type MetricType = 'gauge' | 'sum' | 'histogram' | 'exponential_histogram' | 'summary';

/** One metric of `GET /api/metrics`: a name and type with points in the window. */
export interface MetricInfo {
  name: string;
  type: MetricType;
  unit: string;
  description: string;
  services: string[];
  /** Data point attribute keys seen, sorted. */
  attribute_keys: string[];
}

/** One group of `GET /api/metrics/series`: one value per step, null where the step has none. */
export interface MetricSeries {
  labels: Record<string, string>;
  points: { time_unix_nano: UnixNanos; value: number | null }[];
}

/** `GET /api/metrics/series`. */
export interface MetricSeriesResponse {
  name: string;
  type: MetricType;
  agg: string;
  step_ns: number;
  series: MetricSeries[];
}
