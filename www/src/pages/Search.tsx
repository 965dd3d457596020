// Search: filters (kept in the URL), a scatter plot of the matching traces (start time against
// duration, errors in red) and the list of them; a point or a row opens the trace.

import { useMemo, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import type { Service, TraceSummary } from '../api';
import { Chart } from '../components/Chart';
import { ErrorBox, FirstSpanHint, Link, Loading, useFetch } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import { serviceColor } from '../lib/colors';
import { DEFAULT_FILTERS, filtersFromQuery, filtersToApiQuery, filtersToQuery, type SearchFilters } from '../lib/filters';
import { RANGES, formatDuration, formatTime, nsToSeconds } from '../lib/time';
import { servicesUrl } from '../lib/spanmetrics';
import { navigate } from '../router';

const ROW = 30;

export function SearchPage({ search }: { search: string }) {
  const applied = useMemo(() => filtersFromQuery(search), [search]);
  const [reload, setReload] = useState(0);
  // The relative range is measured from when the search ran, not from each render.
  const apiUrl = useMemo(() => `/api/traces?${filtersToApiQuery(applied, Date.now())}`, [applied, reload]);
  const result = useFetch<{ traces: TraceSummary[] }>(apiUrl, reload);
  // Names only: one whole minute in one step is the cheapest summary the collector answers.
  const services = useFetch<{ services: Service[] }>(useMemo(() => servicesUrl(60e3, 1), []));

  const noData = services.state === 'done' && services.data.services.length === 0;

  return (
    <section class="page search-page">
      <h1>Traces</h1>
      <FilterForm
        key={search}
        initial={applied}
        services={services.state === 'done' ? services.data.services : []}
        onSubmit={(f) => {
          const q = filtersToQuery(f);
          const to = q ? `/?${q}` : '/';
          if (to === location.pathname + location.search) setReload((n) => n + 1);
          else navigate(to);
        }}
      />
      {noData ? (
        <FirstSpanHint>
          <h2>No spans stored yet</h2>
        </FirstSpanHint>
      ) : result.state === 'loading' ? (
        <Loading what="traces" />
      ) : result.state === 'error' ? (
        <>
          <ErrorBox error={result.error} what="traces" />
          {result.error.code === 'invalid_query' && /`(session_id|user_id|attr)`/.test(result.error.message) && (
            <p class="muted">
              This collector cannot filter traces by session, user or attribute yet. Open a session from the{' '}
              <Link href="/sessions">Sessions</Link> page instead, or remove those filters.
            </p>
          )}
        </>
      ) : result.data.traces.length === 0 ? (
        <div class="empty">
          <h2>No traces match</h2>
          <p>
            Try a longer time range, fewer filters, or <Link href="/">clear all filters</Link>. Spans can take a
            moment to arrive: browsers send in batches every few seconds.
          </p>
        </div>
      ) : (
        <Results traces={result.data.traces} ms={result.ms} limit={Number(applied.limit) || 100} />
      )}
    </section>
  );
}

function Results({ traces, ms, limit }: { traces: TraceSummary[]; ms: number; limit: number }) {
  // uPlot wants ascending x; the API answers newest first.
  const points = useMemo(
    () => [...traces].sort((a, b) => (BigInt(a.start_time_unix_nano) < BigInt(b.start_time_unix_nano) ? -1 : 1)),
    [traces],
  );
  const data = useMemo<uPlot.AlignedData>(() => {
    const xs = points.map((t) => nsToSeconds(t.start_time_unix_nano));
    const ms = (t: TraceSummary) => Math.max(t.duration_ns / 1e6, 0.001);
    return [xs, points.map((t) => (t.has_error ? null : ms(t))), points.map((t) => (t.has_error ? ms(t) : null))];
  }, [points]);
  const series = useMemo(
    () => [
      { label: 'OK', color: '#2f7de1', points: true },
      { label: 'Error', color: '#d93636', points: true },
    ],
    [],
  );
  const errors = traces.filter((t) => t.has_error).length;
  return (
    <>
      <p class="muted summary" role="status">
        {traces.length} trace{traces.length === 1 ? '' : 's'}
        {traces.length >= limit ? ` (the newest ${limit}; narrow the filters or raise the limit for more)` : ''},{' '}
        {errors} with errors · answered in {Math.round(ms)} ms
      </p>
      <Chart
        title="Duration of each trace over time"
        data={data}
        series={series}
        yUnit="ms"
        log
        height={220}
        nearest2d
        onPick={(i) => navigate(`/trace/${points[i].trace_id}`)}
        pickHint="opens its trace"
        describe={(i) => {
          const t = points[i];
          return `${t.root_service}: ${t.root_name} · ${formatDuration(t.duration_ns)}${t.has_error ? ' · error' : ''}`;
        }}
      />
      <div class="table-head trace-cols" role="row">
        <span role="columnheader">Start</span>
        <span role="columnheader">Root span</span>
        <span role="columnheader" class="num">
          Duration
        </span>
        <span role="columnheader" class="num">
          Spans
        </span>
      </div>
      <VirtualList
        class="results"
        count={traces.length}
        rowHeight={ROW}
        style={{ height: `${Math.min(traces.length, 14) * ROW + 2}px` }}
        rowRole="listitem"
            outer={{ role: 'list', 'aria-label': 'Matching traces' }}
        renderRow={(i) => {
          const t = traces[i];
          return (
            <Link href={`/trace/${t.trace_id}`} class={`trace-row trace-cols${t.has_error ? ' has-error' : ''}`}>
              <span class="mono">{formatTime(t.start_time_unix_nano)}</span>
              <span class="ellipsis">
                <span class="dot" style={{ background: serviceColor(t.root_service) }} aria-hidden="true" />
                <strong>{t.root_service}</strong> {t.root_name}
                {t.has_error && <span class="badge error">error</span>}
              </span>
              <span class="num">{formatDuration(t.duration_ns)}</span>
              <span class="num">{t.span_count}</span>
            </Link>
          );
        }}
      />
    </>
  );
}

function FilterForm(props: { initial: SearchFilters; services: Service[]; onSubmit: (f: SearchFilters) => void }) {
  const [f, setF] = useState<SearchFilters>(props.initial);
  const [more, setMore] = useState(
    !!(
      props.initial.sessionId ||
      props.initial.userId ||
      props.initial.parentService ||
      props.initial.attrs.length ||
      props.initial.since === ''
    ),
  );
  const set = <K extends keyof SearchFilters>(k: K, v: SearchFilters[K]) => setF((old) => ({ ...old, [k]: v }));
  const input = (k: 'service' | 'name' | 'parentService' | 'minMs' | 'maxMs' | 'start' | 'end' | 'sessionId' | 'userId' | 'limit') => ({
    value: f[k],
    onInput: (e: Event) => set(k, (e.currentTarget as HTMLInputElement).value),
  });
  return (
    <form
      class="filters"
      aria-label="Trace filters"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit(f);
      }}
    >
      <div class="filter-row">
        <label>
          Service
          <input list="services" placeholder="any" {...input('service')} name="service" />
          <datalist id="services">
            {props.services.map((s) => (
              <option value={s.name} />
            ))}
          </datalist>
        </label>
        <label>
          Span name
          <input placeholder="any, e.g. ws.send run_agent" {...input('name')} name="name" />
        </label>
        <label class="short">
          Min ms
          <input inputMode="decimal" {...input('minMs')} name="min_duration_ms" />
        </label>
        <label class="short">
          Max ms
          <input inputMode="decimal" {...input('maxMs')} name="max_duration_ms" />
        </label>
        <label>
          Time
          <select
            value={f.since}
            name="since"
            onChange={(e) => {
              const v = (e.currentTarget as HTMLSelectElement).value;
              set('since', v);
              if (v === '') setMore(true);
            }}
          >
            {Object.keys(RANGES).map((r) => (
              <option value={r}>Last {r}</option>
            ))}
            <option value="">Custom / all time</option>
          </select>
        </label>
        <label class="check">
          <input type="checkbox" checked={f.errorsOnly} name="errors" onChange={(e) => set('errorsOnly', (e.currentTarget as HTMLInputElement).checked)} />
          Errors only
        </label>
        <button type="submit" class="primary">
          Search
        </button>
        <button type="button" class="link" aria-expanded={more} onClick={() => setMore(!more)}>
          {more ? 'Fewer filters' : 'More filters'}
        </button>
      </div>
      {more && (
        <div class="filter-row">
          <label>
            Session id
            <input {...input('sessionId')} name="session_id" />
          </label>
          <label>
            User id
            <input {...input('userId')} name="user_id" />
          </label>
          <label>
            Called by service
            <input list="services" placeholder="any" {...input('parentService')} name="parent_service" />
          </label>
          {f.since === '' && (
            <>
              <label>
                From
                <input placeholder="2026-11-21T10:00:00Z or unix ns" {...input('start')} name="start" />
              </label>
              <label>
                To
                <input placeholder="now" {...input('end')} name="end" />
              </label>
            </>
          )}
          <label class="short">
            Limit
            <input inputMode="numeric" {...input('limit')} name="limit" />
          </label>
          <fieldset class="attrs">
            <legend>Attributes (key = value)</legend>
            {f.attrs.map(([k, v], i) => (
              <div class="attr-row">
                <input
                  aria-label={`Attribute ${i + 1} key`}
                  placeholder="http.route"
                  value={k}
                  onInput={(e) => set('attrs', f.attrs.map((a, j) => (j === i ? [(e.currentTarget as HTMLInputElement).value, a[1]] : a)))}
                />
                =
                <input
                  aria-label={`Attribute ${i + 1} value`}
                  value={v}
                  onInput={(e) => set('attrs', f.attrs.map((a, j) => (j === i ? [a[0], (e.currentTarget as HTMLInputElement).value] : a)))}
                />
                <button type="button" aria-label={`Remove attribute ${i + 1}`} onClick={() => set('attrs', f.attrs.filter((_, j) => j !== i))}>
                  ×
                </button>
              </div>
            ))}
            <button type="button" onClick={() => set('attrs', [...f.attrs, ['', '']])}>
              Add attribute
            </button>
          </fieldset>
          <button type="button" class="link" onClick={() => setF(DEFAULT_FILTERS)}>
            Reset
          </button>
        </div>
      )}
    </form>
  );
}
