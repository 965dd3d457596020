// Services: every service with the rate, error ratio and p95 latency of its SERVER and CONSUMER
// spans over the chosen range, each with a sparkline, sortable by any column; a service opens
// its operations.

import { useMemo, useState } from 'preact/hooks';
import type { ServiceRed } from '../api';
import { ErrorBox, FirstSpanHint, Link, Loading, useFetch } from '../components/common';
import { SortHeader, type SortState } from '../components/SortHeader';
import { Sparkline } from '../components/Sparkline';
import { serviceColor } from '../lib/colors';
import { SORT_KEYS, type SortKey, formatRate, formatRatio, seriesOf, servicesUrl, sortRows, servicePath } from '../lib/spanmetrics';
import { RANGES, formatDuration } from '../lib/time';
import { navigate } from '../router';

/** The page's range (a key of `RANGES`, `1h` by default) and sort from its query string. */
export function pageState(search: string, defaultSort: SortKey) {
  const params = new URLSearchParams(search);
  const range = RANGES[params.get('range') ?? ''] ? params.get('range')! : '1h';
  const key = params.get('sort') as SortKey | null;
  const sort: SortState = {
    key: key && SORT_KEYS.includes(key) ? key : defaultSort,
    reversed: params.get('order') === 'reversed',
  };
  return { params, range, sort };
}

/** Sets (or, for a default value, removes) query parameters of the current page. */
export function setParams(path: string, changes: Record<string, string>, replace = false) {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(changes)) {
    if (v) q.set(k, v);
    else q.delete(k);
  }
  navigate(`${path}${q.toString() ? `?${q}` : ''}`, { replace });
}

/** The sort as query parameters (the default sort leaves them out). */
export function sortParams(s: SortState, defaultSort: SortKey): Record<string, string> {
  return { sort: s.key === defaultSort ? '' : s.key, order: s.reversed ? 'reversed' : '' };
}

export function RangeSelect({ range, onChange }: { range: string; onChange: (r: string) => void }) {
  return (
    <label>
      Time
      <select value={range} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
        {Object.keys(RANGES).map((r) => (
          <option value={r}>Last {r}</option>
        ))}
      </select>
    </label>
  );
}

const DEFAULT_SORT: SortKey = 'calls';

export function ServicesPage({ search }: { search: string }) {
  const { range, sort } = pageState(search, DEFAULT_SORT);
  const [reload, setReload] = useState(0);
  const url = useMemo(() => servicesUrl(RANGES[range]), [range, reload]);
  const services = useFetch<{ services: ServiceRed[] }>(url, reload);
  const rows = useMemo(() => (services.state === 'done' ? sortRows(services.data.services, sort.key, sort.reversed) : []), [services, sort.key, sort.reversed]);
  const onSort = (s: SortState) => setParams('/services', sortParams(s, DEFAULT_SORT), true);

  return (
    <section class="page services-page">
      <header class="page-head">
        <h1>Services</h1>
        <div class="tools">
          <RangeSelect range={range} onChange={(r) => setParams('/services', { range: r === '1h' ? '' : r })} />
          <button type="button" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
          <Link href={`/dependencies${range === '1h' ? '' : `?range=${range}`}`}>Service map</Link>
        </div>
      </header>
      <p class="muted small">
        Requests are the SERVER and CONSUMER spans of each service, in the last {range}. Open a service for its operations.
      </p>
      {services.state === 'loading' ? (
        <Loading what="services" />
      ) : services.state === 'error' ? (
        <ErrorBox error={services.error} what="services" />
      ) : rows.length === 0 ? (
        <FirstSpanHint>
          <h2>No services yet</h2>
        </FirstSpanHint>
      ) : (
        <table class="grid-table services-table" aria-label="Services">
          <thead>
            <tr>
              <SortHeader label="Service" column="name" sort={sort} onSort={onSort} />
              <SortHeader label="Rate" column="rate_per_s" sort={sort} onSort={onSort} num />
              <SortHeader label="Error ratio" column="error_ratio" sort={sort} onSort={onSort} num />
              <SortHeader label="p95" column="p95_ns" sort={sort} onSort={onSort} num />
              <SortHeader label="Calls" column="calls" sort={sort} onSort={onSort} num />
              <SortHeader label="Errors" column="errors" sort={sort} onSort={onSort} num />
              <th scope="col" class="num">
                Spans stored
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => (
              <tr class={s.errors ? 'has-error' : ''} data-service={s.name}>
                <th scope="row">
                  <span class="dot" style={{ background: serviceColor(s.name) }} aria-hidden="true" />
                  <Link href={`${servicePath(s.name)}${range === '1h' ? '' : `?range=${range}`}`}>{s.name}</Link>
                  {s.source === 'browser' && <span class="badge">browser</span>}
                </th>
                <td class="num">
                  <Sparkline values={seriesOf(s, 'rate')} label={`Rate of ${s.name} per step`} />
                  <span class="value">{formatRate(s.rate_per_s)}</span>
                </td>
                <td class="num">
                  <Sparkline values={seriesOf(s, 'errors')} label={`Error ratio of ${s.name} per step`} color="var(--error)" />
                  <span class="value">{formatRatio(s.error_ratio)}</span>
                </td>
                <td class="num">
                  <Sparkline values={seriesOf(s, 'p95')} label={`p95 latency of ${s.name} per step`} color="#e0a106" />
                  <span class="value">{formatDuration(s.p95_ns)}</span>
                </td>
                <td class="num">{s.calls}</td>
                <td class="num">{s.errors}</td>
                <td class="num">{s.span_count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
