// Logs: search every service's log records by text (the `q` syntax, explained under a toggle),
// severity, service, trace, session and time; a histogram by severity that zooms by dragging;
// a virtualised list that loads older pages as it scrolls, each record expanding to its
// attributes with links to its trace and session; and a live mode that streams new records.
// Every filter lives in the page URL.

import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, getJson, type LogHistogram, type LogPage, type LogRecord, type Service } from '../api';
import { ErrorBox, Link, Loading, useFetch } from '../components/common';
import { Histogram } from '../components/Histogram';
import { VirtualList } from '../components/VirtualList';
import { serviceColor } from '../lib/colors';
import {
  DEFAULT_LOG_FILTERS,
  LEVELS,
  LEVEL_COLORS,
  histogramApiQuery,
  levelOf,
  liveApiQuery,
  logFiltersFromQuery,
  logFiltersToQuery,
  logWindow,
  logsApiQuery,
  type Level,
  type LogFilters,
} from '../lib/logs';
import { RANGES, formatTime, millisToNs } from '../lib/time';
import { navigate } from '../router';

const ROW = 30;
const PAGE = 100;
/** Records kept in the list at most; live mode drops the oldest beyond. */
export const LOGS_CAP = 20_000;

function go(f: LogFilters) {
  const q = logFiltersToQuery(f);
  navigate(q ? `/logs?${q}` : '/logs');
}

type Listing =
  | { state: 'loading' }
  | { state: 'error'; error: ApiError }
  | { state: 'done'; records: LogRecord[]; next: string | null; ms: number; more: 'idle' | 'loading' | ApiError };

function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, 'client', String(e));
}

/** The first page for the filters, older pages on demand, and live records on top. */
function useListing(f: LogFilters, nowMs: number, reload: number) {
  const [listing, setListing] = useState<Listing>({ state: 'loading' });
  const current = useRef(listing);
  current.current = listing;
  const base = useRef('');

  useEffect(() => {
    const ctl = new AbortController();
    const t0 = performance.now();
    const url = `/api/logs?${logsApiQuery(f, nowMs, { limit: PAGE })}`;
    base.current = url;
    setListing({ state: 'loading' });
    getJson<LogPage>(url, ctl.signal).then(
      (page) => setListing({ state: 'done', records: page.logs, next: page.next_cursor, ms: performance.now() - t0, more: 'idle' }),
      (e: unknown) => {
        if (!ctl.signal.aborted) setListing({ state: 'error', error: asApiError(e) });
      },
    );
    return () => ctl.abort();
  }, [f, nowMs, reload]);

  const loadMore = () => {
    const l = current.current;
    if (l.state !== 'done' || !l.next || l.more === 'loading') return;
    const started = base.current;
    setListing({ ...l, more: 'loading' });
    getJson<LogPage>(`${started}&cursor=${encodeURIComponent(l.next)}`).then(
      (page) => {
        const now = current.current;
        if (base.current !== started || now.state !== 'done') return;
        setListing({ ...now, records: now.records.concat(page.logs).slice(0, LOGS_CAP), next: page.next_cursor, more: 'idle' });
      },
      (e: unknown) => {
        const now = current.current;
        if (base.current === started && now.state === 'done') setListing({ ...now, more: asApiError(e) });
      },
    );
  };

  const prepend = (fresh: LogRecord[]) => {
    const now = current.current;
    if (now.state !== 'done') return;
    setListing({ ...now, records: fresh.concat(now.records).slice(0, LOGS_CAP) });
  };

  return { listing, loadMore, prepend };
}

type LiveStatus = 'off' | 'connecting' | 'open' | 'closed';

/** While `on`, streams new matching records from `/api/logs/live` into `onRecords`, a frame at a time. */
function useLive(f: LogFilters, on: boolean, onRecords: (fresh: LogRecord[]) => void): LiveStatus {
  const [status, setStatus] = useState<LiveStatus>('off');
  const sink = useRef(onRecords);
  sink.current = onRecords;
  useEffect(() => {
    if (!on) {
      setStatus('off');
      return;
    }
    let ws: WebSocket | null = null;
    let stopped = false;
    let retry = 500;
    let frame = 0;
    let buffer: LogRecord[] = [];
    const flush = () => {
      frame = 0;
      const fresh = buffer.reverse();
      buffer = [];
      sink.current(fresh);
    };
    const connect = () => {
      setStatus('connecting');
      const url = new URL(`/api/logs/live?${liveApiQuery(f)}`, location.href);
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      ws = new WebSocket(url);
      ws.onopen = () => {
        retry = 500;
        setStatus('open');
      };
      ws.onmessage = (m) => {
        try {
          buffer.push(JSON.parse(String(m.data)) as LogRecord);
        } catch {
          return;
        }
        if (!frame) frame = requestAnimationFrame(flush);
      };
      ws.onclose = () => {
        setStatus('closed');
        if (!stopped) setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
      };
    };
    connect();
    return () => {
      stopped = true;
      if (frame) cancelAnimationFrame(frame);
      ws?.close();
    };
  }, [f, on]);
  return status;
}

export function LogsPage({ search }: { search: string }) {
  const applied = useMemo(() => logFiltersFromQuery(search), [search]);
  const [reload, setReload] = useState(0);
  // A relative range is measured from when the search ran, not from each render.
  const nowMs = useMemo(() => Date.now(), [applied, reload]);
  const { listing, loadMore, prepend } = useListing(applied, nowMs, reload);
  const live = useLive(applied, applied.live, prepend);
  const services = useFetch<{ services: Service[] }>('/api/services');

  // The histogram's window: the filters', or from the oldest record shown when it is open.
  const w = logWindow(applied, nowMs);
  const oldest = listing.state === 'done' && listing.records.length ? listing.records[listing.records.length - 1].time_unix_nano : null;
  const histStart = w.start ?? (listing.state === 'done' ? oldest ?? millisToNs(nowMs - 3600e3) : null);
  const histEnd = w.end ?? millisToNs(nowMs + 1);
  const histUrl =
    histStart !== null && BigInt(histStart) < BigInt(histEnd)
      ? `/api/logs/histogram?${histogramApiQuery(applied, histStart, histEnd)}`
      : null;
  const histogram = useFetch<LogHistogram>(histUrl, reload);

  const zoom = (start: string, end: string) => go({ ...applied, since: '', start, end, live: false });

  return (
    <section class="page logs-page">
      <header class="page-head">
        <h1>Logs</h1>
        <div class="tools">
          <button
            type="button"
            class={applied.live ? 'primary' : ''}
            aria-pressed={applied.live}
            onClick={() => go({ ...applied, live: !applied.live })}
          >
            {applied.live ? 'Live: on' : 'Live'}
          </button>
          {applied.live && (
            <span class={`status ${live}`} role="status">
              {live === 'open' ? 'Streaming new records' : live === 'connecting' ? 'Connecting…' : 'Disconnected, retrying…'}
            </span>
          )}
        </div>
      </header>
      <LogFilterForm
        key={search}
        initial={applied}
        services={services.state === 'done' ? services.data.services : []}
        onSubmit={(f) => {
          const q = logFiltersToQuery(f);
          if (`/logs${q ? `?${q}` : ''}` === location.pathname + location.search) setReload((n) => n + 1);
          else go(f);
        }}
      />
      <ActiveFilters f={applied} />
      {histogram.state === 'done' && histogram.data.total > 0 && (
        <Histogram
          data={histogram.data}
          onZoom={zoom}
          onLevel={(level) => go({ ...applied, levels: [level] })}
        />
      )}
      {applied.since === '' && (applied.start || applied.end) && (
        <p class="muted small">
          Window {applied.start ? formatMaybe(applied.start) : 'from the first record'} to{' '}
          {applied.end ? formatMaybe(applied.end) : 'now'}.{' '}
          <button type="button" class="link" onClick={() => go({ ...applied, since: '1h', start: '', end: '' })}>
            Back to the last hour
          </button>
        </p>
      )}
      {listing.state === 'loading' ? (
        <Loading what="log records" />
      ) : listing.state === 'error' ? (
        <ErrorBox error={listing.error} what="log records" />
      ) : listing.records.length === 0 ? (
        <div class="empty">
          <h2>No log records match</h2>
          <p>
            Try a longer time range, fewer words or filters, or <Link href="/logs">clear all filters</Link>. Log records
            arrive over OTLP/HTTP at <code>/v1/logs</code>, from backends (any OpenTelemetry SDK's log exporter) and
            from browsers running the Tracewire SDK (uncaught errors, for example).
            {applied.live ? ' Live mode shows new ones here as they are stored.' : ''}
          </p>
        </div>
      ) : (
        <LogList listing={listing} loadMore={loadMore} />
      )}
    </section>
  );
}

function formatMaybe(t: string): string {
  return /^\d+$/.test(t) ? formatTime(t) : t;
}

function ActiveFilters({ f }: { f: LogFilters }) {
  const chips: { label: string; clear: Partial<LogFilters> }[] = [];
  if (f.traceId) chips.push({ label: `trace ${f.traceId}`, clear: { traceId: '' } });
  if (f.spanId) chips.push({ label: `span ${f.spanId}`, clear: { spanId: '' } });
  if (f.sessionId) chips.push({ label: `session ${f.sessionId}`, clear: { sessionId: '' } });
  if (f.userId) chips.push({ label: `user ${f.userId}`, clear: { userId: '' } });
  f.attrs.forEach(([k, v], i) => chips.push({ label: `${k} = ${v}`, clear: { attrs: f.attrs.filter((_, j) => j !== i) } }));
  if (!chips.length) return null;
  return (
    <ul class="active-filters" aria-label="Other filters">
      {chips.map((c) => (
        <li class="chip">
          {c.label}
          <button type="button" aria-label={`Remove filter ${c.label}`} onClick={() => go({ ...f, ...c.clear })}>
            ×
          </button>
        </li>
      ))}
    </ul>
  );
}

function LogList({ listing, loadMore }: { listing: Extract<Listing, { state: 'done' }>; loadMore: () => void }) {
  const { records } = listing;
  const [open, setOpen] = useState<ReadonlyMap<LogRecord, number>>(new Map());
  const tall = useMemo(() => {
    const byIndex = new Map<number, number>();
    if (open.size) records.forEach((r, i) => open.has(r) && byIndex.set(i, open.get(r)!));
    return byIndex;
  }, [records, open]);
  const toggle = (r: LogRecord) => {
    const next = new Map(open);
    if (next.has(r)) next.delete(r);
    else next.set(r, ROW + 160);
    setOpen(next);
  };
  const measured = (r: LogRecord, h: number) =>
    setOpen((old) => (old.has(r) && old.get(r) !== ROW + h ? new Map(old).set(r, ROW + h) : old));
  return (
    <>
      <p class="muted summary" role="status">
        {records.length.toLocaleString()} record{records.length === 1 ? '' : 's'}, newest first
        {listing.next ? ' · older ones load as you scroll' : ' · all loaded'} · first page in {Math.round(listing.ms)} ms
      </p>
      <div class="table-head log-cols" role="row">
        <span role="columnheader">Time</span>
        <span role="columnheader">Severity</span>
        <span role="columnheader">Service</span>
        <span role="columnheader">Message</span>
      </div>
      <VirtualList
        class="results logs-list"
        count={records.length}
        rowHeight={ROW}
        tall={tall}
        onEnd={loadMore}
        rowRole="listitem"
        outer={{ role: 'list', 'aria-label': 'Log records, newest first' }}
        renderRow={(i) => {
          const r = records[i];
          return <LogRow record={r} open={open.has(r)} onToggle={() => toggle(r)} onHeight={(h) => measured(r, h)} />;
        }}
      />
      {listing.more === 'loading' && <Loading what="older records" />}
      {listing.more instanceof ApiError && <ErrorBox error={listing.more} what="older records" />}
    </>
  );
}

function LogRow(props: { record: LogRecord; open: boolean; onToggle: () => void; onHeight: (h: number) => void }) {
  const r = props.record;
  const level = levelOf(r.severity_number);
  return (
    <div class={`log-row level-${level}${props.open ? ' open' : ''}`}>
      <button type="button" class="log-summary log-cols" aria-expanded={props.open} onClick={props.onToggle}>
        <span class="mono">{formatTime(r.time_unix_nano)}</span>
        <span class="level" style={{ color: LEVEL_COLORS[level] }}>
          {r.severity_text || level}
        </span>
        <span class="ellipsis">
          <span class="dot" style={{ background: serviceColor(r.service_name) }} aria-hidden="true" />
          {r.service_name}
        </span>
        <span class="ellipsis log-body-line">{r.body || <span class="muted">{r.event_name || '(empty)'}</span>}</span>
      </button>
      {props.open && <LogDetail record={r} onHeight={props.onHeight} />}
    </div>
  );
}

function LogDetail({ record: r, onHeight }: { record: LogRecord; onHeight: (h: number) => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const report = () => onHeight(Math.ceil(el.getBoundingClientRect().height) + 2);
    report();
    const ro = new ResizeObserver(report);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  const session = r.attributes['session.id'];
  const attrs = Object.entries(r.attributes);
  const resource = Object.entries(r.resource_attributes);
  return (
    <div class="log-detail" ref={ref}>
      <pre class="log-body">{r.body}</pre>
      <p class="log-links">
        {r.trace_id ? (
          <>
            <Link href={`/trace/${r.trace_id}${r.span_id ? `?span=${r.span_id}` : ''}`}>Open trace {r.trace_id.slice(0, 8)}…</Link>
            <Link href={`/logs?${logFiltersToQuery({ ...DEFAULT_LOG_FILTERS, traceId: r.trace_id, since: '' })}`}>All logs of this trace</Link>
          </>
        ) : (
          <span class="muted">Not in a trace</span>
        )}
        {session && (
          <>
            <Link href={`/sessions/${encodeURIComponent(session)}`}>Open session {session}</Link>
            <Link href={`/logs?${logFiltersToQuery({ ...DEFAULT_LOG_FILTERS, sessionId: session, since: '' })}`}>All logs of this session</Link>
          </>
        )}
      </p>
      <dl class="attrs-list">
        <dt>severity</dt>
        <dd>
          {r.severity_text || '–'} ({r.severity_number})
        </dd>
        <dt>observed</dt>
        <dd>{r.observed_time_unix_nano !== '0' ? formatTime(r.observed_time_unix_nano) : '–'}</dd>
        {r.scope_name && (
          <>
            <dt>scope</dt>
            <dd>
              {r.scope_name} {r.scope_version}
            </dd>
          </>
        )}
        {r.event_name && (
          <>
            <dt>event</dt>
            <dd>{r.event_name}</dd>
          </>
        )}
      </dl>
      {attrs.length > 0 && (
        <>
          <h3>Attributes</h3>
          <dl class="attrs-list">
            {attrs.map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </>
            ))}
          </dl>
        </>
      )}
      {resource.length > 0 && (
        <details>
          <summary>Resource ({resource.length})</summary>
          <dl class="attrs-list">
            {resource.map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </>
            ))}
          </dl>
        </details>
      )}
    </div>
  );
}

function LogFilterForm(props: { initial: LogFilters; services: Service[]; onSubmit: (f: LogFilters) => void }) {
  const [f, setF] = useState<LogFilters>(props.initial);
  const [help, setHelp] = useState(false);
  const set = <K extends keyof LogFilters>(k: K, v: LogFilters[K]) => setF((old) => ({ ...old, [k]: v }));
  const text = (k: 'q' | 'service' | 'start' | 'end') => ({
    value: f[k],
    onInput: (e: Event) => set(k, (e.currentTarget as HTMLInputElement).value),
  });
  const toggleLevel = (l: Level, on: boolean) => set('levels', on ? LEVELS.filter((x) => x === l || f.levels.includes(x)) : f.levels.filter((x) => x !== l));
  return (
    <form
      class="filters"
      aria-label="Log filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(f);
      }}
    >
      <div class="filter-row">
        <label class="grow">
          Search
          <input
            type="search"
            name="q"
            placeholder={'timeout -healthz "connection reset" time*'}
            aria-describedby="q-help"
            {...text('q')}
          />
        </label>
        <label>
          Service
          <input list="log-services" placeholder="any" name="service" {...text('service')} />
          <datalist id="log-services">
            {props.services.map((s) => (
              <option value={s.name} />
            ))}
          </datalist>
        </label>
        <label>
          Time
          <select value={f.since} name="since" onChange={(e) => set('since', (e.currentTarget as HTMLSelectElement).value)}>
            {Object.keys(RANGES).map((r) => (
              <option value={r}>Last {r}</option>
            ))}
            <option value="">Custom / all time</option>
          </select>
        </label>
        <button type="submit" class="primary">
          Search
        </button>
        <button type="button" class="link" aria-expanded={help} aria-controls="q-help" onClick={() => setHelp(!help)}>
          {help ? 'Hide syntax' : 'Syntax'}
        </button>
      </div>
      <div id="q-help" class="syntax-help" hidden={!help}>
        <ul>
          <li>
            <code>timeout agent</code>: every word must occur as a whole word, in any case (<code>Timeout</code>, <code>TIMEOUT</code>).
          </li>
          <li>
            <code>"connection reset"</code>: the words one right after the other.
          </li>
          <li>
            <code>time*</code>: a word that starts with <code>time</code>.
          </li>
          <li>
            <code>-healthz</code>, <code>-"GET /healthz"</code>: leave out records that match.
          </li>
          <li>
            Punctuation separates words: <code>/api/agents</code> finds <code>GET /api/agents</code>, and <code>user-id</code> finds{' '}
            <code>user_id</code>. Letters, digits and non-ASCII characters make up words.
          </li>
        </ul>
      </div>
      <div class="filter-row">
        <fieldset class="levels-filter">
          <legend>Severity (none checked: all)</legend>
          {LEVELS.map((l) => (
            <label class="check">
              <input type="checkbox" name="severity" value={l} checked={f.levels.includes(l)} onChange={(e) => toggleLevel(l, (e.currentTarget as HTMLInputElement).checked)} />
              <span class="dot" style={{ background: LEVEL_COLORS[l] }} aria-hidden="true" />
              {l}
            </label>
          ))}
        </fieldset>
        {f.since === '' && (
          <>
            <label>
              From
              <input placeholder="2026-11-21T10:00:00Z or unix ns" name="start" {...text('start')} />
            </label>
            <label>
              To
              <input placeholder="now" name="end" {...text('end')} />
            </label>
          </>
        )}
      </div>
    </form>
  );
}
