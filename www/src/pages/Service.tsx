// One service: its request rate, error ratio and latency percentiles over the chosen range
// (a chart point searches that step's traces), and its operations, sortable by every column,
// each linked to its traces.

import { useMemo, useState } from 'preact/hooks';
import type { Operation, ServiceRed } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { ErrorBox, Link, Loading, useFetch } from '../components/common';
import { SortHeader, type SortState } from '../components/SortHeader';
import { Sparkline } from '../components/Sparkline';
import { DEFAULT_FILTERS, filtersToQuery } from '../lib/filters';
import { type SortKey, alignedWindow, formatRate, formatRatio, seriesOf, sortRows, servicePath } from '../lib/spanmetrics';
import { RANGES, addNs, formatDuration, nsToSeconds } from '../lib/time';
import { navigate } from '../router';
import { RangeSelect, pageState, setParams, sortParams } from './Services';
import { withQuery } from '../api';

const DEFAULT_SORT: SortKey = 'calls';
const RATE: SeriesSpec[] = [{ label: 'requests/s', color: '#2f7de1' }];
const ERRORS: SeriesSpec[] = [{ label: 'error ratio (%)', color: '#d94f4f' }];
const PCT: SeriesSpec[] = [
  { label: 'p50', color: '#2ea36b' },
  { label: 'p95', color: '#e0a106' },
  { label: 'p99', color: '#d94f4f' },
];

/** The search page's URL for traces of `service` (and `operation`) from `start` to `end`. */
export function searchUrl(service: string, opts: { name?: string; parentService?: string; start: string; end: string }): string {
  return `/?${filtersToQuery({ ...DEFAULT_FILTERS, service, name: opts.name ?? '', parentService: opts.parentService ?? '', since: '', start: opts.start, end: opts.end })}`;
}

export function ServicePage({ name, search }: { name: string; search: string }) {
  const { range, sort } = pageState(search, DEFAULT_SORT);
  const [reload, setReload] = useState(0);
  const win = useMemo(() => alignedWindow(RANGES[range]), [range, reload]);
  const ops = useFetch<{ operations: Operation[] }>(withQuery(`/api/services/${encodeURIComponent(name)}/operations`, win), reload);
  const services = useFetch<{ services: ServiceRed[] }>(withQuery('/api/services', win), reload);
  const service = services.state === 'done' ? services.data.services.find((s) => s.name === name) : undefined;
  const path = servicePath(name);
  const onSort = (s: SortState) => setParams(path, sortParams(s, DEFAULT_SORT), true);
  const rows = useMemo(() => (ops.state === 'done' ? sortRows(ops.data.operations, sort.key, sort.reversed) : []), [ops, sort.key, sort.reversed]);

  return (
    <section class="page service-page">
      <header class="page-head">
        <h1>
          <Link href={`/services${range === '1h' ? '' : `?range=${range}`}`} class="muted">
            Services
          </Link>{' '}
          / {name}
          {service?.source === 'browser' && <span class="badge">browser</span>}
        </h1>
        <div class="tools">
          <RangeSelect range={range} onChange={(r) => setParams(path, { range: r === '1h' ? '' : r })} />
          <button type="button" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
          <Link href={searchUrl(name, win)}>Search its traces</Link>
        </div>
      </header>
      {service && <ServiceCharts service={service} stepNs={win.step} />}
      <h2>Operations</h2>
      {ops.state === 'loading' ? (
        <Loading what="operations" />
      ) : ops.state === 'error' ? (
        <ErrorBox error={ops.error} what="operations" />
      ) : rows.length === 0 ? (
        <p class="muted">No SERVER or CONSUMER spans of {name} in the last {range}.</p>
      ) : (
        <table class="grid-table operations-table" aria-label={`Operations of ${name}`}>
          <thead>
            <tr>
              <SortHeader label="Operation" column="name" sort={sort} onSort={onSort} />
              <SortHeader label="Calls" column="calls" sort={sort} onSort={onSort} num />
              <SortHeader label="Errors" column="errors" sort={sort} onSort={onSort} num />
              <SortHeader label="Error ratio" column="error_ratio" sort={sort} onSort={onSort} num />
              <SortHeader label="Rate" column="rate_per_s" sort={sort} onSort={onSort} num />
              <SortHeader label="p50" column="p50_ns" sort={sort} onSort={onSort} num />
              <SortHeader label="p95" column="p95_ns" sort={sort} onSort={onSort} num />
              <SortHeader label="p99" column="p99_ns" sort={sort} onSort={onSort} num />
            </tr>
          </thead>
          <tbody>
            {rows.map((o) => (
              <tr class={o.errors ? 'has-error' : ''} data-operation={o.name}>
                <th scope="row">
                  <Link href={searchUrl(name, { ...win, name: o.name })} title="Search the traces of this operation">
                    {o.name}
                  </Link>
                </th>
                <td class="num">{o.calls}</td>
                <td class="num">{o.errors}</td>
                <td class="num">{formatRatio(o.error_ratio)}</td>
                <td class="num">
                  <Sparkline values={seriesOf(o, 'rate')} label={`Rate of ${o.name} per step`} />
                  <span class="value">{formatRate(o.rate_per_s)}</span>
                </td>
                <td class="num">{formatDuration(o.p50_ns)}</td>
                <td class="num">{formatDuration(o.p95_ns)}</td>
                <td class="num">{formatDuration(o.p99_ns)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function ServiceCharts({ service, stepNs }: { service: ServiceRed; stepNs: string }) {
  const shaped = useMemo(() => {
    const xs = service.series.map((p) => nsToSeconds(p.time_unix_nano));
    const ms = (v: number | null) => (v === null ? null : v / 1e6);
    return {
      rate: [xs, service.series.map((p) => p.rate_per_s)] as [number[], number[]],
      errors: [xs, service.series.map((p) => (p.error_ratio === null ? null : p.error_ratio * 100))] as [number[], (number | null)[]],
      latency: [xs, ...(['p50_ns', 'p95_ns', 'p99_ns'] as const).map((k) => service.series.map((p) => ms(p[k])))] as [number[], ...(number | null)[][]],
    };
  }, [service]);
  // A point searches the service's traces of that step.
  const pick = (i: number) => {
    const at = service.series[i]?.time_unix_nano;
    if (at) navigate(searchUrl(service.name, { start: at, end: addNs(at, Number(stepNs)) }));
  };
  const hint = 'searches the traces of that time';
  return (
    <div class="chart-grid">
      <Chart title="Requests per second" data={shaped.rate} series={RATE} yUnit="/s" onPick={pick} pickHint={hint} />
      <Chart title="Error ratio (%)" data={shaped.errors} series={ERRORS} yUnit="%" onPick={pick} pickHint={hint} />
      <Chart title="Latency (ms)" data={shaped.latency} series={PCT} yUnit="ms" onPick={pick} pickHint={hint} />
    </div>
  );
}
