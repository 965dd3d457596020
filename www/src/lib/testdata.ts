// Span builders shared by the unit tests.
import type { Span } from '../api';

let next = 1;

/** A span with sensible defaults; `start`/`end` are unix-ns strings. */
export function span(p: Partial<Span> & { span_id: string }): Span {
  return {
    trace_id: '5b8efff798038103d269b633813fc60c',
    parent_span_id: '',
    trace_state: '',
    name: `span ${next++}`,
    kind: 'Internal',
    service_name: 'backend',
    start_time_unix_nano: '1763700000000000000',
    end_time_unix_nano: '1763700000001000000',
    duration_ns: 1_000_000,
    status_code: 'Unset',
    status_message: '',
    attributes: {},
    resource_attributes: {},
    scope_name: '',
    scope_version: '',
    events: [],
    links: [],
    ...p,
  };
}

export const WEBJS = { 'telemetry.sdk.language': 'webjs', 'service.name': 'web' };
