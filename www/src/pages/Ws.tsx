// WebSocket dashboard: round-trip, uplink, server and downlink percentiles over time, message
// rate, messages and errors per second by message type, message types (rate, errors, traced and
// counted messages, slowest), hot endpoints. Any chart point opens the round trips of its time bucket (and of its message
// type, on the per-type charts), each linked to its trace.

import { useMemo, useState } from 'preact/hooks';
import type { HotEndpoints, LatencyResponse, MessageType, MessageTypesResponse, RatesResponse, RoundTrip } from '../api';
import { withQuery } from '../api';
import { Chart, type SeriesSpec } from '../components/Chart';
import { ErrorBox, Link, Loading, useFetch } from '../components/common';
import { seriesColor } from '../lib/colors';
import { tracedAndCounted, untracedLine } from '../lib/counted';
import { METRICS, bucketRange, hasSamples, percentileSeries, rateSeries, rateStepRange, typeRateSeries } from '../lib/series';
import { RANGES, formatDuration, formatTime, millisToNs } from '../lib/time';
import { navigate } from '../router';

const PCT: SeriesSpec[] = [
  { label: 'p50', color: '#2ea36b' },
  { label: 'p95', color: '#e0a106' },
  { label: 'p99', color: '#d94f4f' },
];
const RATE: SeriesSpec[] = [{ label: 'messages/s', color: '#2f7de1' }];
const BUCKETS = 60;
/** The collector's sum of the types beyond the busiest ten; it has no filter of its own. */
const OTHER = '(other)';
const OTHER_COLOR = '#8a94a3';

/** The round trips a chart point stands for: a time bucket, of one message type or of all (''). */
interface DrillSpec {
  start: string;
  end: string;
  label: string;
  type: string;
  errorsFirst?: boolean;
}

export function WsPage({ search }: { search: string }) {
  const params = new URLSearchParams(search);
  const range = RANGES[params.get('range') ?? ''] ? params.get('range')! : '1h';
  const type = params.get('type') ?? '';
  const [reload, setReload] = useState(0);
  const win = useMemo(() => {
    const ms = RANGES[range];
    const stepMs = ms / BUCKETS;
    // The window ends on a whole step, so from an hour up (steps of whole minutes) the
    // collector answers from its per-minute rollups instead of reading every round trip.
    const end = Math.ceil(Date.now() / stepMs) * stepMs;
    return { start: millisToNs(end - ms), end: millisToNs(end), stepNs: String(Math.round(stepMs * 1e6)) };
  }, [range, reload]);
  const setParam = (k: string, v: string) => {
    const q = new URLSearchParams(location.search);
    if (v) q.set(k, v);
    else q.delete(k);
    navigate(`/ws${q.toString() ? `?${q}` : ''}`);
  };

  const latency = useFetch<LatencyResponse>(
    withQuery('/api/ws/latency', { start: win.start, end: win.end, step: win.stepNs, message_type: type }),
    reload,
  );
  const rates = useFetch<RatesResponse>(withQuery('/api/ws/rates', { start: win.start, end: win.end, step: win.stepNs }), reload);
  const types = useFetch<MessageTypesResponse>(withQuery('/api/ws/message-types', { start: win.start, end: win.end }), reload);
  const hot = useFetch<HotEndpoints>('/api/endpoints/hot?window=5m', reload);
  const [drill, setDrill] = useState<DrillSpec | null>(null);
  // Shaped once per answer, so opening a drill-down does not redraw every chart.
  const shaped = useMemo(
    () =>
      latency.state === 'done'
        ? { pct: METRICS.map((m) => percentileSeries(latency.data, m.key)), rate: rateSeries(latency.data) }
        : null,
    [latency],
  );

  const pick = (resp: LatencyResponse, label: string) => (i: number) => {
    const r = bucketRange(resp, i);
    if (r) setDrill({ ...r, label, type });
  };

  return (
    <section class="page ws-page">
      <header class="page-head">
        <h1>WebSocket messages</h1>
        <div class="tools">
          <label>
            Time
            <select value={range} onChange={(e) => setParam('range', (e.currentTarget as HTMLSelectElement).value === '1h' ? '' : (e.currentTarget as HTMLSelectElement).value)}>
              {Object.keys(RANGES).map((r) => (
                <option value={r}>Last {r}</option>
              ))}
            </select>
          </label>
          {type && (
            <span class="chip">
              type <strong>{type}</strong>
              <button type="button" aria-label="Show all message types" onClick={() => setParam('type', '')}>
                ×
              </button>
            </span>
          )}
          <button type="button" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
        </div>
      </header>

      {latency.state === 'loading' ? (
        <Loading what="latency" />
      ) : latency.state === 'error' ? (
        <ErrorBox error={latency.error} what="latency" />
      ) : !hasSamples(latency.data) ? (
        <NoWsData />
      ) : (
        <>
          <p class="muted small">
            Percentiles per {formatDuration(latency.data.step_ns)} bucket{type ? ` for ${type}` : ''}. Click a point, or
            focus a chart and use the arrow keys and Enter, to list the round trips behind it.
          </p>
          <div class="chart-grid">
            {METRICS.map((m, i) => (
              <Chart
                title={`${m.label} (ms)`}
                data={shaped!.pct[i]}
                series={PCT}
                yUnit="ms"
                onPick={pick(latency.data, m.label)}
                pickHint="lists the round trips at that time"
              />
            ))}
            <Chart title="Message rate (per second)" data={shaped!.rate} series={RATE} yUnit="/s" onPick={pick(latency.data, 'Message rate')} pickHint="lists the round trips at that time" />
          </div>
          {rates.state === 'loading' ? (
            <Loading what="message rates" />
          ) : rates.state === 'error' ? (
            <ErrorBox error={rates.error} what="message rates" />
          ) : (
            <TypeRateCharts rates={rates.data} onPick={setDrill} />
          )}
        </>
      )}

      {drill && <Drill {...drill} onClose={() => setDrill(null)} />}

      <div class="two-col">
        <div>
          <h2>Message types</h2>
          {types.state === 'loading' ? (
            <Loading what="message types" />
          ) : types.state === 'error' ? (
            <ErrorBox error={types.error} what="message types" />
          ) : types.data.types.length === 0 ? (
            <p class="muted">No WebSocket messages in this time range.</p>
          ) : (
            <TypesTable types={types.data.types} onType={(t) => setParam('type', t)} />
          )}
          {types.state === 'done' && <Untraced types={types.data} />}
        </div>
        <div>
          <h2>Slowest message types</h2>
          {types.state === 'done' && <Slowest types={types.data.types} />}
          <h2>Hot endpoints (last 5 minutes)</h2>
          {hot.state === 'loading' ? (
            <Loading what="hot endpoints" />
          ) : hot.state === 'error' ? (
            <ErrorBox error={hot.error} what="hot endpoints" />
          ) : (
            <Hot hot={hot.data} />
          )}
        </div>
      </div>
    </section>
  );
}

function NoWsData() {
  return (
    <div class="empty">
      <h2>No WebSocket round trips yet</h2>
      <p>
        Round trips appear when a browser page sends WebSocket messages through the Tracewire SDK and the backend
        continues the trace from the message's <code>trace_context</code> field (see{' '}
        <code>docs/semantic-conventions.md</code>: the <code>tracewire-ws</code> crate for Rust, a short recipe for
        Python).
      </p>
      <ol>
        <li>
          Start the collector with your page's origin allowed: <code>--cors-origin https://app.example.com</code>.
        </li>
        <li>Load the SDK in the page and point it at the collector's OTLP port (4318).</li>
        <li>Send a message; its round trip shows here within a few seconds.</li>
      </ol>
    </div>
  );
}

/** Messages and errors per second, one line per message type, in the same colours on both charts. */
function TypeRateCharts({ rates, onPick }: { rates: RatesResponse; onPick: (d: DrillSpec) => void }) {
  const shaped = useMemo(
    () => ({
      series: rates.types.map<SeriesSpec>((t, k) => ({
        label: t.message_type || '(no type)',
        color: t.message_type === OTHER ? OTHER_COLOR : seriesColor(k),
      })),
      count: typeRateSeries(rates, 'count'),
      errors: typeRateSeries(rates, 'errors'),
    }),
    [rates],
  );
  if (!rates.types.length) return null;
  const pick = (what: 'Messages' | 'Errors') => (i: number, s: number) => {
    const r = rateStepRange(rates, i);
    // The round trips API filters by one named type: "(other)" and untyped messages list all types.
    const type = rates.types[s - 1].message_type === OTHER ? '' : rates.types[s - 1].message_type;
    const label = type ? `${type} ${what.toLowerCase()}` : `${what} of all types`;
    if (r) onPick({ ...r, label, type, errorsFirst: what === 'Errors' });
  };
  const hint = "lists that type's round trips at that time";
  return (
    <div class="chart-grid wide">
      <Chart title="Messages per second by type" data={shaped.count} series={shaped.series} yUnit="/s" onPick={pick('Messages')} pickHint={hint} />
      <Chart title="Errors per second by type" data={shaped.errors} series={shaped.series} yUnit="/s" onPick={pick('Errors')} pickHint={hint} />
    </div>
  );
}

/** A rate with two decimals, or two significant digits below 0.01/s: `0.0028/s`, not `0.00/s`. */
function perSecond(v: number): string {
  return `${v && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2)}/s`;
}

function pct(n: number, d: number): string {
  return d ? `${((n / d) * 100).toFixed(n && n / d < 0.01 ? 2 : 1)}%` : '–';
}

function TypesTable({ types, onType }: { types: MessageType[]; onType: (t: string) => void }) {
  const rows = [...types].sort((a, b) => b.rate_per_s - a.rate_per_s);
  const maxRate = Math.max(...rows.map((t) => t.rate_per_s), 1e-9);
  return (
    <table class="grid-table" aria-label="Message types">
      <thead>
        <tr>
          <th scope="col">Type</th>
          <th scope="col" class="num">Rate</th>
          <th scope="col" class="num">Count</th>
          <th scope="col" class="num" title="Messages with a trace / messages the SDK counted without one">
            Traced / counted
          </th>
          <th scope="col" class="num">Errors</th>
          <th scope="col" class="num">p50</th>
          <th scope="col" class="num">p95</th>
          <th scope="col">Traces</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((t) => (
          <tr class={t.errors ? 'has-error' : ''}>
            <th scope="row">
              <button type="button" class="link" title="Show this type in the charts" onClick={() => onType(t.message_type)}>
                {t.message_type || '(no type)'}
              </button>
            </th>
            <td class="num">
              <span class="meter" style={{ width: `${(t.rate_per_s / maxRate) * 60}px` }} aria-hidden="true" />
              {perSecond(t.rate_per_s)}
            </td>
            <td class="num">{t.count}</td>
            <td class="num">{tracedAndCounted(t)}</td>
            <td class="num">{t.errors ? `${t.errors} (${pct(t.errors, t.count)})` : '0'}</td>
            <td class="num">{formatDuration(t.p50_total_ns)}</td>
            <td class="num">{formatDuration(t.p95_total_ns)}</td>
            <td>
              {t.example_trace_id && <Link href={`/trace/${t.example_trace_id}`}>example</Link>}{' '}
              {t.slowest_trace_id && <Link href={`/trace/${t.slowest_trace_id}`}>slowest</Link>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** How many messages were counted without a trace and how many items the SDK dropped, when any. */
function Untraced({ types }: { types: MessageTypesResponse }) {
  const line = untracedLine(types);
  return line ? (
    <p class="muted small" role="note">
      {line}
    </p>
  ) : null;
}

function Slowest({ types }: { types: MessageType[] }) {
  const rows = types
    .filter((t) => t.p95_total_ns !== null)
    .sort((a, b) => (b.p95_total_ns ?? 0) - (a.p95_total_ns ?? 0))
    .slice(0, 5);
  if (!rows.length) return <p class="muted">No completed round trips yet.</p>;
  return (
    <ol class="slowest">
      {rows.map((t) => (
        <li>
          <strong>{t.message_type || '(no type)'}</strong> p95 {formatDuration(t.p95_total_ns)}{' '}
          {t.slowest_trace_id && <Link href={`/trace/${t.slowest_trace_id}`}>slowest trace</Link>}
        </li>
      ))}
    </ol>
  );
}

function Hot({ hot }: { hot: HotEndpoints }) {
  if (!hot.routes.length && !hot.sessions.length)
    return <p class="muted">No requests in the last {formatDuration(hot.window_ns)}.</p>;
  return (
    <>
      <table class="grid-table" aria-label="Hot routes">
        <thead>
          <tr>
            <th scope="col">Route</th>
            <th scope="col" class="num">Requests</th>
            <th scope="col" class="num">Rate</th>
            <th scope="col" class="num">Sessions</th>
          </tr>
        </thead>
        <tbody>
          {hot.routes.slice(0, 10).map((r) => (
            <tr>
              <th scope="row">
                <Link href={`/?${new URLSearchParams({ attr: `http.route=${r.route}` })}`}>{r.route}</Link>
              </th>
              <td class="num">{r.requests}</td>
              <td class="num">{perSecond(r.rate_per_s)}</td>
              <td class="num">{r.sessions}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {hot.sessions.length > 0 && (
        <table class="grid-table">
          <caption>Busiest sessions (poll storms)</caption>
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Route</th>
              <th scope="col" class="num">Rate</th>
            </tr>
          </thead>
          <tbody>
            {hot.sessions.slice(0, 10).map((s) => (
              <tr>
                <th scope="row">
                  <Link href={`/sessions/${encodeURIComponent(s.session_id)}`}>{s.session_id}</Link>
                </th>
                <td>{s.route}</td>
                <td class="num">{perSecond(s.rate_per_s)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function Drill({ start, end, label, type, errorsFirst, onClose }: DrillSpec & { onClose: () => void }) {
  const rts = useFetch<{ roundtrips: RoundTrip[] }>(withQuery('/api/ws/roundtrips', { start, end, message_type: type, limit: '200' }));
  // Slowest first; from an errors chart, the failed ones before all others.
  const rows =
    rts.state === 'done'
      ? [...rts.data.roundtrips].sort(
          (a, b) => (errorsFirst ? Number(b.error) - Number(a.error) : 0) || (b.total_ns ?? b.server_ns) - (a.total_ns ?? a.server_ns),
        )
      : [];
  return (
    <section class="drill" aria-label="Round trips in the chosen time bucket">
      <div class="panel-head">
        <h2>
          {label}: round trips from {formatTime(start)} to {formatTime(end)}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close round trips">
          ×
        </button>
      </div>
      {rts.state === 'loading' ? (
        <Loading what="round trips" />
      ) : rts.state === 'error' ? (
        <ErrorBox error={rts.error} what="round trips" />
      ) : rows.length === 0 ? (
        <p class="muted">No round trips in this bucket.</p>
      ) : (
        <table class="grid-table">
          <thead>
            <tr>
              <th scope="col">Trace</th>
              <th scope="col">Type</th>
              <th scope="col" class="num">Round trip</th>
              <th scope="col" class="num">Uplink</th>
              <th scope="col" class="num">Server</th>
              <th scope="col" class="num">Downlink</th>
              <th scope="col">Session</th>
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, 50).map((r) => (
              <tr class={r.error ? 'has-error' : ''}>
                <th scope="row">
                  <Link href={`/trace/${r.trace_id}?span=${r.send_span_id}`}>
                    <code>{r.trace_id.slice(0, 12)}…</code>
                  </Link>
                </th>
                <td>{r.message_type}</td>
                <td class="num">{formatDuration(r.total_ns)}</td>
                <td class="num">{formatDuration(r.uplink_ns)}</td>
                <td class="num">{formatDuration(r.server_ns)}</td>
                <td class="num">{formatDuration(r.downlink_ns)}</td>
                <td>{r.session_id && <Link href={`/sessions/${encodeURIComponent(r.session_id)}`}>{r.session_id.slice(0, 12)}</Link>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
