// The dependency map: browsers, backends and the calls between them over the chosen range, in
// columns from callers to callees; an edge's width follows its calls, its colour its errors.
// Every edge and service is a link (Tab to it, Enter to follow): an edge searches the traces of
// its calls, a service opens its operations. The same edges are listed in a table below.

import { useMemo, useState } from 'preact/hooks';
import type { Edge, ServiceRed } from '../api';
import { withQuery } from '../api';
import { ErrorBox, Link, Loading, useFetch } from '../components/common';
import { type Layout, type MapNode, edgeWidth, errorLevel, layout } from '../lib/graph';
import { alignedWindow, formatRate, formatRatio, servicePath } from '../lib/spanmetrics';
import { RANGES, formatDuration } from '../lib/time';
import { onLinkClick } from '../router';
import { RangeSelect, setParams } from './Services';
import { searchUrl } from './Service';

const COL = 240;
const ROW = 84;
const NODE_W = 160;
const NODE_H = 46;
const PAD = 24;
const LEVELS = { ok: 'No errors', some: 'Errors below 5%', many: '5% errors or more' } as const;

export function DependencyMapPage({ search }: { search: string }) {
  const params = new URLSearchParams(search);
  const range = RANGES[params.get('range') ?? ''] ? params.get('range')! : '1h';
  const [reload, setReload] = useState(0);
  const win = useMemo(() => alignedWindow(RANGES[range]), [range, reload]);
  const deps = useFetch<{ edges: Edge[] }>(withQuery('/api/dependencies', { start: win.start, end: win.end }), reload);
  const services = useFetch<{ services: ServiceRed[] }>(withQuery('/api/services', { ...win, step: String(BigInt(win.end) - BigInt(win.start)) }), reload);

  return (
    <section class="page map-page">
      <header class="page-head">
        <h1>Service map</h1>
        <div class="tools">
          <RangeSelect range={range} onChange={(r) => setParams('/dependencies', { range: r === '1h' ? '' : r })} />
          <button type="button" onClick={() => setReload((n) => n + 1)}>
            Refresh
          </button>
          <Link href={`/services${range === '1h' ? '' : `?range=${range}`}`}>Services</Link>
        </div>
      </header>
      {deps.state === 'loading' || services.state === 'loading' ? (
        <Loading what="the service map" />
      ) : deps.state === 'error' ? (
        <ErrorBox error={deps.error} what="dependencies" />
      ) : services.state === 'error' ? (
        <ErrorBox error={services.error} what="services" />
      ) : deps.data.edges.length === 0 ? (
        <div class="empty">
          <h2>No calls between services in the last {range}</h2>
          <p>
            A call shows here when a span's parent span belongs to another service: a browser page whose SDK puts{' '}
            <code>traceparent</code> into fetch requests and WebSocket messages, or a backend whose HTTP client
            propagates the trace context to the next service.
          </p>
        </div>
      ) : (
        <>
          <DependencyMap edges={deps.data.edges} services={services.data.services} win={win} />
          <EdgeTable edges={deps.data.edges} win={win} />
        </>
      )}
    </section>
  );
}

interface Win {
  start: string;
  end: string;
}

function place(n: MapNode) {
  return { x: PAD + n.column * COL, y: PAD + n.row * ROW };
}

/** The edge's path, its label's place and whether it runs back (below the nodes). */
function route(from: MapNode, to: MapNode, bottom: number) {
  const a = place(from);
  const b = place(to);
  if (to.column > from.column) {
    const [x1, y1, x2, y2] = [a.x + NODE_W, a.y + NODE_H / 2, b.x - 6, b.y + NODE_H / 2];
    const dx = (x2 - x1) / 2;
    return { d: `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`, lx: (x1 + x2) / 2, ly: (y1 + y2) / 2 - 6 };
  }
  // Back to a caller's column (a reply to a browser, a loop): under the nodes.
  const [x1, y1, x2, y2] = [a.x + NODE_W / 2 + 12, a.y + NODE_H, b.x + NODE_W / 2 - 12, b.y + NODE_H + 6];
  const low = bottom + 30;
  return { d: `M${x1},${y1} C${x1},${low} ${x2},${low} ${x2},${y2}`, lx: (x1 + x2) / 2, ly: (y1 + y2) / 8 + (low * 3) / 4 - 4 };
}

function DependencyMap({ edges, services, win }: { edges: Edge[]; services: ServiceRed[]; win: Win }) {
  const graph: Layout = useMemo(
    () =>
      layout(
        services.filter((s) => edges.some((e) => e.from === s.name || e.to === s.name)).map((s) => ({ name: s.name, browser: s.source === 'browser' })),
        edges,
      ),
    [services, edges],
  );
  const at = new Map(graph.nodes.map((n) => [n.name, n]));
  const stats = new Map(services.map((s) => [s.name, s]));
  const maxCalls = Math.max(1, ...edges.map((e) => e.calls));
  const bottom = PAD + (graph.rows - 1) * ROW + NODE_H;
  const width = PAD * 2 + (graph.columns - 1) * COL + NODE_W;
  const height = bottom + 70;
  return (
    <figure class="map">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="group" aria-label="Calls between services">
        <defs>
          {Object.keys(LEVELS).map((level) => (
            <marker id={`arrow-${level}`} viewBox="0 0 10 10" refX="8" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class={`arrow ${level}`} />
            </marker>
          ))}
        </defs>
        {edges.map((e) => {
          const from = at.get(e.from);
          const to = at.get(e.to);
          if (!from || !to) return null;
          const r = route(from, to, bottom);
          const level = errorLevel(e);
          const href = searchUrl(e.to, { parentService: e.from, ...win });
          const words = `${e.from} to ${e.to}: ${e.calls} call${e.calls === 1 ? '' : 's'}, ${e.errors} error${e.errors === 1 ? '' : 's'}, p95 ${formatDuration(e.p95_ns)}. Search its traces.`;
          return (
            <a href={href} class={`edge ${level}`} data-from={e.from} data-to={e.to} aria-label={words} onClick={(ev) => onLinkClick(ev as unknown as MouseEvent, href)}>
              <title>{words}</title>
              <path d={r.d} class="edge-hit" />
              <path d={r.d} class="edge-line" stroke-width={edgeWidth(e.calls, maxCalls)} marker-end={`url(#arrow-${level})`} />
              <text x={r.lx} y={r.ly} class="edge-label">
                {e.calls}
                {e.errors ? ` · ${e.errors} err` : ''}
              </text>
            </a>
          );
        })}
        {graph.nodes.map((n) => {
          const { x, y } = place(n);
          const s = stats.get(n.name);
          const href = servicePath(n.name);
          return (
            <a href={href} class={`node${n.browser ? ' browser' : ''}`} data-service={n.name} aria-label={`${n.name}${n.browser ? ' (browser)' : ''}: open its operations`} onClick={(ev) => onLinkClick(ev as unknown as MouseEvent, href)}>
              <rect x={x} y={y} width={NODE_W} height={NODE_H} rx="8" />
              <text x={x + 10} y={y + 19} class="node-name">
                {n.name.length > 20 ? `${n.name.slice(0, 19)}…` : n.name}
              </text>
              <text x={x + 10} y={y + 36} class="node-stat">
                {n.browser ? 'browser' : s && s.calls ? `${formatRate(s.rate_per_s)} · ${formatRatio(s.error_ratio)} err` : 'no requests'}
              </text>
            </a>
          );
        })}
      </svg>
      <figcaption class="muted small legend">
        Width: calls (logarithmic). Colour:{' '}
        {Object.entries(LEVELS).map(([level, label]) => (
          <span class={`legend-item ${level}`}>
            <span class="swatch" aria-hidden="true" /> {label}
          </span>
        ))}
        . Click an edge, or Tab to it and press Enter, to search its traces.
      </figcaption>
    </figure>
  );
}

function EdgeTable({ edges, win }: { edges: Edge[]; win: Win }) {
  return (
    <table class="grid-table edges-table" aria-label="Calls between services">
      <thead>
        <tr>
          <th scope="col">From</th>
          <th scope="col">To</th>
          <th scope="col" class="num">Calls</th>
          <th scope="col" class="num">Errors</th>
          <th scope="col" class="num">p95</th>
          <th scope="col">Traces</th>
        </tr>
      </thead>
      <tbody>
        {edges.map((e) => (
          <tr class={e.errors ? 'has-error' : ''}>
            <th scope="row">{e.from}</th>
            <td>{e.to}</td>
            <td class="num">{e.calls}</td>
            <td class="num">
              {e.errors} ({formatRatio(e.errors / e.calls)})
            </td>
            <td class="num">{formatDuration(e.p95_ns)}</td>
            <td>
              <Link href={searchUrl(e.to, { parentService: e.from, ...win })}>search</Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
