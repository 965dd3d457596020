// Metrics explorer: pick a metric from the catalogue (its type, unit and description shown), an
// aggregation its type takes, filters by service and data point attribute, groups, a range and a
// step; a chart draws one line per group (a step without data is a gap) and tables give every
// series' figures and its values per step. The whole choice lives in the URL.

import { useMemo, useState } from 'preact/hooks';
import type { MetricInfo, MetricSeriesResponse, MetricType } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { CopyButton, ErrorBox, Loading, otlpGuess, useFetch } from '../components/common';
import { seriesColor } from '../lib/colors';
import {
  AGGS,
  AGG_LABELS,
  STEPS,
  SERVICE_KEY,
  type MetricsChoice,
  catalogUrl,
  chartData,
  choiceQuery,
  effectiveAgg,
  errorHint,
  findMetric,
  formatValue,
  isEmpty,
  parseChoice,
  pickMetric,
  seriesStats,
  seriesUrl,
  seriesWindow,
  valueUnit,
} from '../lib/metrics';
import { formatTime } from '../lib/time';
import { navigate } from '../router';
import { RangeSelect } from './Services';

/** The page's path (`/metrics` is the collector's own Prometheus endpoint). */
export const METRICS_PATH = '/explore';

/** Lines drawn at most; the tables list every series. */
const MAX_LINES = 20;

const TYPE_LABELS: Record<MetricType, string> = {
  gauge: 'gauge',
  sum: 'sum (counter)',
  histogram: 'histogram',
  exponential_histogram: 'exponential histogram',
  summary: 'summary',
};

export function MetricsPage({ search }: { search: string }) {
  const choice = parseChoice(search);
  const [reload, setReload] = useState(0);
  const catalog = useFetch<{ metrics: MetricInfo[] }>(useMemo(() => catalogUrl(choice.range), [choice.range, reload]), reload);
  const metrics = catalog.state === 'done' ? catalog.data.metrics : [];
  const metric = findMetric(metrics, choice);
  const set = (c: MetricsChoice) => navigate(`${METRICS_PATH}${choiceQuery(c)}`);

  return (
    <section class="page metrics-page">
      <header class="page-head">
        <h1>Metrics</h1>
        <div class="tools">
          <RangeSelect range={choice.range} onChange={(range) => set({ ...choice, range })} />
          <label>
            Step
            <select aria-label="Step" value={choice.step} onChange={(e) => set({ ...choice, step: (e.currentTarget as HTMLSelectElement).value })}>
              <option value="">auto</option>
              {Object.keys(STEPS).map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
        </div>
      </header>
      {catalog.state === 'loading' ? (
        <Loading what="metrics" />
      ) : catalog.state === 'error' ? (
        <ErrorBox error={catalog.error} what="the metric list" />
      ) : metrics.length === 0 && !choice.name ? (
        <NoMetrics />
      ) : (
        <>
          <Controls metrics={metrics} metric={metric} choice={choice} set={set} />
          {choice.name ? (
            <Result choice={choice} metric={metric} reload={reload} />
          ) : (
            <p class="muted">Pick a metric to chart it.</p>
          )}
        </>
      )}
    </section>
  );
}

interface ControlsProps {
  metrics: MetricInfo[];
  metric: MetricInfo | undefined;
  choice: MetricsChoice;
  set: (c: MetricsChoice) => void;
}

function Controls({ metrics, metric, choice, set }: ControlsProps) {
  const value = metric ? `${metric.type}|${metric.name}` : '';
  const onMetric = (v: string) => {
    const m = metrics.find((x) => `${x.type}|${x.name}` === v);
    if (m) set(pickMetric(choice, m));
  };
  const keys = metric ? [SERVICE_KEY, ...metric.attribute_keys.filter((k) => k !== SERVICE_KEY)] : [];
  const toggleGroup = (k: string, on: boolean) =>
    set({ ...choice, groupBy: on ? [...choice.groupBy.filter((g) => g !== k), k] : choice.groupBy.filter((g) => g !== k) });

  return (
    <div class="filters metrics-controls">
      <div class="filter-row">
        <label>
          Metric
          <select aria-label="Metric" value={value} onChange={(e) => onMetric((e.currentTarget as HTMLSelectElement).value)}>
            {!metric && <option value="">{choice.name ? `${choice.name} (not in the last ${choice.range})` : 'Choose a metric…'}</option>}
            {metrics.map((m) => (
              <option value={`${m.type}|${m.name}`}>
                {m.name} ({m.type})
              </option>
            ))}
          </select>
        </label>
        {metric && (
          <>
            <label>
              Aggregation
              <select aria-label="Aggregation" value={effectiveAgg(metric.type, choice.agg)} onChange={(e) => set({ ...choice, agg: (e.currentTarget as HTMLSelectElement).value })}>
                {AGGS[metric.type].map((a) => (
                  <option value={a}>{AGG_LABELS[a] ?? a}</option>
                ))}
              </select>
            </label>
            <label>
              Service
              <select aria-label="Service" value={choice.service} onChange={(e) => set({ ...choice, service: (e.currentTarget as HTMLSelectElement).value })}>
                <option value="">all services</option>
                {metric.services.map((s) => (
                  <option value={s}>{s}</option>
                ))}
              </select>
            </label>
          </>
        )}
      </div>
      {metric && (
        <>
          <dl class="facts wide metric-facts" aria-label="About this metric">
            <dt>Type</dt>
            <dd>{TYPE_LABELS[metric.type]}</dd>
            <dt>Unit</dt>
            <dd>{metric.unit ? <code>{metric.unit}</code> : <span class="muted">none</span>}</dd>
            <dt>Description</dt>
            <dd>{metric.description || <span class="muted">none</span>}</dd>
            <dt>Services</dt>
            <dd>{metric.services.join(', ')}</dd>
          </dl>
          <div class="filter-row">
            <fieldset class="attrs">
              <legend>Group by</legend>
              {keys.map((k) => (
                <label class="check">
                  <input type="checkbox" checked={choice.groupBy.includes(k)} onChange={(e) => toggleGroup(k, (e.currentTarget as HTMLInputElement).checked)} />
                  {k}
                </label>
              ))}
            </fieldset>
            <Filters keys={metric.attribute_keys} choice={choice} set={set} />
          </div>
        </>
      )}
    </div>
  );
}

/** `attr.K=V` filters: a chip per filter, and a key from those seen with a value to add one. */
function Filters({ keys, choice, set }: { keys: string[]; choice: MetricsChoice; set: (c: MetricsChoice) => void }) {
  const [key, setKey] = useState('');
  const [value, setValue] = useState('');
  const chosenKey = keys.includes(key) ? key : (keys[0] ?? '');
  const add = (e: Event) => {
    e.preventDefault();
    if (!chosenKey) return;
    set({ ...choice, filters: [...choice.filters.filter(([k, v]) => !(k === chosenKey && v === value)), [chosenKey, value]] });
    setValue('');
  };
  return (
    <fieldset class="attrs">
      <legend>Filters</legend>
      {choice.filters.map(([k, v], i) => (
        <span class="chip">
          <code>
            {k} = {v}
          </code>
          <button type="button" aria-label={`Remove the filter ${k} = ${v}`} onClick={() => set({ ...choice, filters: choice.filters.filter((_, j) => j !== i) })}>
            ×
          </button>
        </span>
      ))}
      {keys.length === 0 ? (
        <span class="muted small">This metric's points have no attributes.</span>
      ) : (
        <form class="attr-row" onSubmit={add}>
          <select aria-label="Filter key" value={chosenKey} onChange={(e) => setKey((e.currentTarget as HTMLSelectElement).value)}>
            {keys.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
          <input aria-label="Filter value" placeholder="value" value={value} onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit">Add filter</button>
        </form>
      )}
    </fieldset>
  );
}

function Result({ choice, metric, reload }: { choice: MetricsChoice; metric: MetricInfo | undefined; reload: number }) {
  const type = metric?.type ?? choice.type;
  const url = useMemo(() => seriesUrl(choice, type, seriesWindow(choice)), [search(choice), type, reload]);
  const answer = useFetch<MetricSeriesResponse>(url, reload);
  if (answer.state === 'loading') return <Loading what="series" />;
  if (answer.state === 'error') {
    const hint = errorHint(answer.error.code);
    return (
      <>
        <ErrorBox error={answer.error} what={`the series of ${choice.name}`} />
        {hint && <p class="metrics-hint">{hint}</p>}
      </>
    );
  }
  const data = answer.data;
  if (data.series.length === 0 || isEmpty(data.series)) {
    return (
      <div class="empty" role="status">
        <h2>No data</h2>
        <p>
          No points of <code>{data.name}</code> in the last {choice.range}
          {choice.service || choice.filters.length ? ' that match these filters' : ''}. Choose a longer range
          {choice.filters.length ? ', or remove a filter' : ''}.
        </p>
      </div>
    );
  }
  return <SeriesView data={data} unit={valueUnit(data.type, metric?.unit ?? '', data.agg)} />;
}

/** The choice's identity for memoising: its query string. */
function search(c: MetricsChoice): string {
  return choiceQuery(c);
}

function SeriesView({ data, unit }: { data: MetricSeriesResponse; unit: string }) {
  const shaped = useMemo(() => {
    const { xs, columns, labels } = chartData(data.series);
    const drawn = columns.slice(0, MAX_LINES);
    return {
      aligned: [xs, ...drawn] as [number[], ...(number | null)[][]],
      specs: labels.slice(0, MAX_LINES).map<SeriesSpec>((label, i) => ({ label, color: seriesColor(i) })),
      labels,
      stats: data.series.map(seriesStats),
    };
  }, [data]);
  const title = `${data.name} · ${AGG_LABELS[data.agg] ?? data.agg}${unit ? ` (${unit})` : ''}`;
  return (
    <>
      <Chart title={title} data={shaped.aligned} series={shaped.specs} yUnit={unit} height={260} />
      {shaped.labels.length > MAX_LINES && (
        <p class="muted small">
          The chart draws the first {MAX_LINES} of {shaped.labels.length} series; the table lists them all.
        </p>
      )}
      <table class="grid-table metric-series" aria-label="Series">
        <caption>
          {data.series.length} series, {data.agg} per {formatStep(data.step_ns)} step
        </caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col" class="num">
              Steps with data
            </th>
            <th scope="col" class="num">
              Last
            </th>
            <th scope="col" class="num">
              Min
            </th>
            <th scope="col" class="num">
              Max
            </th>
            <th scope="col" class="num">
              Mean
            </th>
          </tr>
        </thead>
        <tbody>
          {shaped.stats.map((s, i) => (
            <tr data-series={s.label}>
              <th scope="row">
                <span class="dot" style={{ background: i < MAX_LINES ? seriesColor(i) : 'transparent' }} aria-hidden="true" />
                {s.label}
              </th>
              <td class="num">{s.steps}</td>
              <td class="num">{formatValue(s.last)}</td>
              <td class="num">{formatValue(s.min)}</td>
              <td class="num">{formatValue(s.max)}</td>
              <td class="num">{formatValue(s.mean)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>Values per step</summary>
        <table class="grid-table" aria-label="Values per step">
          <thead>
            <tr>
              <th scope="col">Step start</th>
              {shaped.labels.map((l) => (
                <th scope="col" class="num">
                  {l}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {(data.series[0]?.points ?? []).map((p, i) => (
              <tr>
                <th scope="row">{formatTime(p.time_unix_nano)}</th>
                {data.series.map((s) => (
                  <td class="num">{formatValue(s.points[i]?.value ?? null)}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </>
  );
}

function formatStep(ns: number): string {
  const s = ns / 1e9;
  if (s % 3600 === 0) return `${s / 3600} h`;
  if (s % 60 === 0) return `${s / 60} min`;
  return `${s} s`;
}

/** What a new user does next: the one command that stores a first data point. */
function NoMetrics() {
  const now = (BigInt(Date.now()) * 1_000_000n).toString();
  const cmd = `curl -s ${otlpGuess()}/v1/metrics -H 'content-type: application/json' -d '{
  "resourceMetrics": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scopeMetrics": [{"metrics": [{"name": "queue.depth", "unit": "{item}",
      "gauge": {"dataPoints": [{"timeUnixNano": "${now}", "asDouble": 3}]}}]}]
  }]}'`;
  return (
    <div class="empty">
      <h2>No metrics yet</h2>
      <p>
        No metric has points in this range (at least the last day). Send one to the collector's OTLP port (4318 over HTTP at{' '}
        <code>/v1/metrics</code>, 4317 over gRPC):
      </p>
      <pre class="snippet">
        <code>{cmd}</code>
      </pre>
      <CopyButton text={cmd} label="command" />
      <p>Any OpenTelemetry SDK's metrics exporter works the same way. Then reload this page.</p>
    </div>
  );
}
