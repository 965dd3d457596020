// Session: one browser session on a time line: messages, requests, errors and connection events
// in lanes, the estimated clock offset, and the list of events linked to their traces.

import { useMemo, useState } from 'preact/hooks';
import type { Session, SessionEventKind } from '../api';
import { withQuery } from '../api';
import { ErrorBox, Id, Link, Loading, useFetch } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import { logsLink } from '../lib/logs';
import { diffNs, formatDuration, formatTime } from '../lib/time';
import { navigate } from '../router';

const LANES: { kind: SessionEventKind; label: string; color: string }[] = [
  { kind: 'connection', label: 'Connections', color: '#8a6ae6' },
  { kind: 'message', label: 'Messages', color: '#2f7de1' },
  { kind: 'request', label: 'Requests', color: '#2ea36b' },
  { kind: 'error', label: 'Errors', color: '#d93636' },
  { kind: 'span', label: 'Other spans', color: '#7a8a1f' },
  { kind: 'log', label: 'Logs', color: '#8a8f98' },
];
const ROW = 28;

export function SessionLookup() {
  const [id, setId] = useState('');
  return (
    <section class="page">
      <h1>Sessions</h1>
      <p>
        A session is one browser tab's visit, named by the <code>session.id</code> attribute the Tracewire SDK puts on
        every browser span. Open one from a span's details, from the busiest sessions on the{' '}
        <Link href="/ws">WebSocket page</Link>, or by its id:
      </p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (id.trim()) navigate(`/sessions/${encodeURIComponent(id.trim())}`);
        }}
      >
        <div class="filter-row">
          <label>
            Session id
            <input value={id} onInput={(e) => setId((e.currentTarget as HTMLInputElement).value)} name="session_id" />
          </label>
          <button type="submit" class="primary">
            Open
          </button>
        </div>
      </form>
    </section>
  );
}

export function SessionPage({ id }: { id: string }) {
  const result = useFetch<Session>(`/api/sessions/${encodeURIComponent(id)}`);
  if (result.state === 'loading') return <section class="page"><Loading what="the session" /></section>;
  if (result.state === 'error')
    return (
      <section class="page">
        <h1>Session {id}</h1>
        <ErrorBox error={result.error} what="the session" />
      </section>
    );
  return <SessionView s={result.data} />;
}

function SessionView({ s }: { s: Session }) {
  const events = useMemo(
    () => [...s.events].sort((a, b) => (BigInt(a.time_unix_nano) < BigInt(b.time_unix_nano) ? -1 : 1)),
    [s],
  );
  const total = Math.max(1, diffNs(s.end_time_unix_nano, s.start_time_unix_nano));
  const counts = Object.fromEntries(LANES.map((l) => [l.kind, events.filter((e) => e.kind === l.kind).length]));
  // The four lanes of the contract always show; the others only when the session has some.
  const lanes = LANES.filter((l, i) => i < 4 || counts[l.kind] > 0);
  const [active, setActive] = useState(0);
  const W = 1000;
  const laneH = 26;
  return (
    <section class="page session-page">
      <h1>Session</h1>
      <dl class="facts wide">
        <dt>Session id</dt>
        <dd>
          <Id value={s.session_id} label="session id" />{' '}
          <Link href={`/?${new URLSearchParams({ session_id: s.session_id, since: '' })}`}>its traces</Link> ·{' '}
          <Link href={logsLink({ sessionId: s.session_id }, s.start_time_unix_nano, s.end_time_unix_nano)}>its logs</Link>
        </dd>
        <dt>User</dt>
        <dd>{s.user_id ? <Link href={`/?${new URLSearchParams({ user_id: s.user_id, since: '' })}`}>{s.user_id}</Link> : <span class="muted">not set</span>}</dd>
        <dt>Clock offset</dt>
        <dd>
          {s.clock_offset_samples ? (
            <>
              {formatDuration(s.clock_offset_ns)} <span class="muted">(server minus browser, from {s.clock_offset_samples} round trip{s.clock_offset_samples === 1 ? '' : 's'})</span>
            </>
          ) : (
            <span class="muted">unknown: no completed WebSocket round trip in this session</span>
          )}
        </dd>
        <dt>Time</dt>
        <dd>
          {formatTime(s.start_time_unix_nano)} to {formatTime(s.end_time_unix_nano)} ({formatDuration(total)})
        </dd>
        <dt>Events</dt>
        <dd>{lanes.map((l) => `${counts[l.kind]} ${l.label.toLowerCase()}`).join(', ')}</dd>
      </dl>
      {events.length === 0 ? (
        <p class="muted">This session has no events in the store (retention may have removed them).</p>
      ) : (
        <>
          <figure class="timeline">
            <figcaption>Time line (click a mark to open its trace; the list below has every event)</figcaption>
            <svg viewBox={`0 0 ${W + 110} ${lanes.length * laneH + 20}`} role="img" aria-label={`Session time line with ${events.length} events`}>
              {lanes.map((l, i) => (
                <g>
                  <text x="0" y={i * laneH + 17} class="lane-label">
                    {l.label}
                  </text>
                  <line x1="110" x2={W + 110} y1={i * laneH + 13} y2={i * laneH + 13} class="lane-line" />
                </g>
              ))}
              {events.map((e, idx) => {
                const lane = lanes.findIndex((l) => l.kind === e.kind);
                if (lane < 0) return null;
                const x = 110 + (diffNs(e.time_unix_nano, s.start_time_unix_nano) / total) * W;
                const w = Math.max(2, (e.duration_ns / total) * W);
                return (
                  <rect
                    x={x}
                    y={lane * laneH + 5}
                    width={w}
                    height={16}
                    rx={2}
                    fill={e.status_code === 'Error' ? '#d93636' : lanes[lane].color}
                    class="mark"
                    onClick={() => {
                      setActive(idx);
                      if (e.trace_id) navigate(`/trace/${e.trace_id}?span=${e.span_id}`);
                    }}
                  >
                    <title>
                      {e.name} · {formatDuration(e.duration_ns)}
                    </title>
                  </rect>
                );
              })}
              <text x="110" y={lanes.length * laneH + 16} class="lane-label">
                {formatTime(s.start_time_unix_nano)}
              </text>
              <text x={W + 110} y={lanes.length * laneH + 16} class="lane-label" text-anchor="end">
                +{formatDuration(total)}
              </text>
            </svg>
          </figure>
          <h2>Events</h2>
          <VirtualList
            class="results"
            count={events.length}
            rowHeight={ROW}
            scrollTo={active}
            style={{ height: `${Math.min(events.length, 16) * ROW + 2}px` }}
            rowRole="listitem"
            outer={{ role: 'list', 'aria-label': 'Session events' }}
            renderRow={(i) => {
              const e = events[i];
              return (
                <Link
                  href={e.trace_id ? `/trace/${e.trace_id}${e.span_id ? `?span=${e.span_id}` : ''}` : `/sessions/${encodeURIComponent(s.session_id)}`}
                  class={`trace-row session-cols${e.status_code === 'Error' || e.kind === 'error' ? ' has-error' : ''}`}
                 
                >
                  <span class="mono">+{formatDuration(diffNs(e.time_unix_nano, s.start_time_unix_nano))}</span>
                  <span>
                    <span class={`badge kind-${e.kind}`}>{e.kind}</span>
                  </span>
                  <span class="ellipsis">{e.name}</span>
                  <span class="num">{formatDuration(e.duration_ns)}</span>
                </Link>
              );
            }}
          />
          <p class="small muted">
            <Link href={withQuery('/', { session_id: s.session_id, since: '' })}>Search all traces of this session</Link>
          </p>
        </>
      )}
    </section>
  );
}
