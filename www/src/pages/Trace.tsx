// Trace: every span of one trace, browser and backend in one tree, on the skew-corrected time line
// (or the raw one), with the uplink and downlink of each WebSocket exchange and a side panel.

import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Span, Trace } from '../api';
import { CopyButton, ErrorBox, Id, Link, Loading, useFetch } from '../components/common';
import { logsLink } from '../lib/logs';
import { VirtualList } from '../components/VirtualList';
import { colorsFor } from '../lib/colors';
import { formatDuration, formatTime } from '../lib/time';
import { ancestors, isBrowserSpan, layoutWaterfall, rowIndex, spanTimes, type TimeMode, type WaterfallRow } from '../lib/waterfall';
import { navigate } from '../router';

const ROW = 26;

export function TracePage({ id, search }: { id: string; search: string }) {
  const result = useFetch<Trace>(`/api/traces/${encodeURIComponent(id)}`);
  if (result.state === 'loading') return <section class="page"><Loading what="the trace" /></section>;
  if (result.state === 'error')
    return (
      <section class="page">
        <h1>Trace {id}</h1>
        <ErrorBox error={result.error} what="the trace" />
        {result.error.code === 'trace_not_found' && (
          <p>
            Nothing is stored under this id (yet). Spans arrive in batches, so reload in a few seconds, or{' '}
            <Link href="/">search recent traces</Link>.
          </p>
        )}
      </section>
    );
  return <TraceView trace={result.data} search={search} ms={result.ms} />;
}

function setParam(key: string, value: string | null) {
  const q = new URLSearchParams(location.search);
  if (value === null) q.delete(key);
  else q.set(key, value);
  const s = q.toString();
  navigate(location.pathname + (s ? `?${s}` : ''), { replace: true });
}

function TraceView({ trace, search, ms }: { trace: Trace; search: string; ms: number }) {
  const params = new URLSearchParams(search);
  const mode: TimeMode = params.get('time') === 'raw' ? 'raw' : 'corrected';
  const selectedId = params.get('span');
  const [collapsed, setCollapsed] = useState<Set<string>>(() => new Set());
  const layout = useMemo(() => layoutWaterfall(trace.spans, mode, collapsed), [trace, mode, collapsed]);
  const colors = useMemo(() => colorsFor(layout.services), [layout.services]);
  const [active, setActive] = useState(() => Math.max(0, selectedId ? rowIndex(layout, selectedId) : 0));
  const hasBrowser = layout.rows.some((r) => r.browser);
  const corrected = trace.spans.some((s) => s.corrected_start_time_unix_nano || s.clock_offset_ns);

  // A deep link to a span inside a collapsed subtree opens the path to it.
  useEffect(() => {
    if (!selectedId) return;
    const up = ancestors(trace.spans, selectedId).filter((a) => collapsed.has(a));
    if (up.length) {
      const next = new Set(collapsed);
      up.forEach((a) => next.delete(a));
      setCollapsed(next);
    }
    const i = rowIndex(layout, selectedId);
    if (i >= 0) setActive(i);
  }, [selectedId, layout]);

  const root = layout.rows[0]?.span;
  const select = (i: number) => {
    const r = layout.rows[i];
    if (!r) return;
    setActive(i);
    setParam('span', r.span.span_id);
  };
  const toggle = (spanId: string, open?: boolean) => {
    const next = new Set(collapsed);
    const isOpen = !next.has(spanId);
    if (open === undefined ? isOpen : !open) next.add(spanId);
    else next.delete(spanId);
    setCollapsed(next);
  };
  const onKey = (e: KeyboardEvent) => {
    const r = layout.rows[active];
    const page = 15;
    let i = active;
    switch (e.key) {
      case 'ArrowDown': i = active + 1; break;
      case 'ArrowUp': i = active - 1; break;
      case 'PageDown': i = active + page; break;
      case 'PageUp': i = active - page; break;
      case 'Home': i = 0; break;
      case 'End': i = layout.rows.length - 1; break;
      case 'ArrowRight':
        if (r?.collapsed) toggle(r.span.span_id, true);
        else i = active + (r?.childCount ? 1 : 0);
        break;
      case 'ArrowLeft':
        if (r && r.childCount && !r.collapsed) toggle(r.span.span_id, false);
        else if (r) {
          const p = layout.rows.findIndex((x) => x.span.span_id === r.span.parent_span_id);
          if (p >= 0) i = p;
        }
        break;
      case 'Enter':
      case ' ':
        if (r) setParam('span', r.span.span_id);
        break;
      case 'Escape':
        setParam('span', null);
        break;
      default:
        return;
    }
    e.preventDefault();
    select(Math.max(0, Math.min(layout.rows.length - 1, i)));
  };

  const selected = selectedId ? trace.spans.find((s) => s.span_id === selectedId) : undefined;
  const ticks = [0, 0.25, 0.5, 0.75, 1];

  return (
    <section class={`page trace-page${selected ? ' with-panel' : ''}`}>
      <header class="trace-head">
        <h1>
          {root ? (
            <>
              <span class="muted">{root.service_name}</span> {root.name}
            </>
          ) : (
            'Trace'
          )}
        </h1>
        <div class="trace-meta">
          <span>
            Trace <Id value={trace.trace_id} label="trace id" />
          </span>
          <span>{formatDuration(layout.totalNs)}</span>
          <span>
            {layout.spanCount} span{layout.spanCount === 1 ? '' : 's'}
          </span>
          <span class="muted">loaded in {Math.round(ms)} ms</span>
          <span>
            Link <CopyButton text={location.href} label="link to this view" />
          </span>
          <span>
            <Link href={traceLogsLink(trace)}>Logs of this trace</Link>
          </span>
        </div>
        <div class="trace-tools">
          <ul class="legend" aria-label="Services">
            {layout.services.map((s) => (
              <li>
                <span class="dot" style={{ background: colors.get(s) }} aria-hidden="true" />
                {s}
              </li>
            ))}
          </ul>
          {hasBrowser && (
            <fieldset class="segmented" aria-describedby="time-help">
              <legend class="sr-only">Time line</legend>
              <label>
                <input type="radio" name="time" checked={mode === 'corrected'} onChange={() => setParam('time', null)} />
                Skew-corrected
              </label>
              <label>
                <input type="radio" name="time" checked={mode === 'raw'} onChange={() => setParam('time', 'raw')} />
                Raw clocks
              </label>
            </fieldset>
          )}
          {hasBrowser && (
            <span id="time-help" class="muted small">
              {mode === 'corrected'
                ? corrected
                  ? 'Browser spans are moved onto the backend clock by the session’s estimated offset.'
                  : 'No clock offset known for this session yet: times are as recorded.'
                : 'Each span as its own clock recorded it; browser and backend clocks may disagree.'}
            </span>
          )}
        </div>
      </header>
      <div class="trace-body">
        <div class="waterfall">
          <div class="wf-head" aria-hidden="true">
            <span class="wf-name">Span</span>
            <span class="wf-time">
              {ticks.map((t) => (
                <span class="tick" style={{ left: `${t * 100}%` }}>
                  {formatDuration(t * layout.totalNs)}
                </span>
              ))}
            </span>
          </div>
          <VirtualList
            class="wf-rows"
            count={layout.rows.length}
            rowHeight={ROW}
            scrollTo={active}
            outer={{
              role: 'tree',
              tabIndex: 0,
              'aria-label': `Spans of trace ${trace.trace_id}. Arrow keys move, Right and Left open and close, Enter shows details.`,
              'aria-activedescendant': layout.rows[active] ? `row-${layout.rows[active].span.span_id}` : undefined,
              onKeyDown: onKey,
            }}
            renderRow={(i) => (
              <WaterfallLine
                row={layout.rows[i]}
                total={layout.totalNs}
                color={colors.get(layout.rows[i].span.service_name) ?? '#888'}
                active={i === active}
                selected={layout.rows[i].span.span_id === selectedId}
                onSelect={() => select(i)}
                onToggle={() => toggle(layout.rows[i].span.span_id)}
              />
            )}
          />
        </div>
        {selected && <SpanPanel span={selected} mode={mode} onClose={() => setParam('span', null)} />}
      </div>
    </section>
  );
}

function WaterfallLine(props: {
  row: WaterfallRow;
  total: number;
  color: string;
  active: boolean;
  selected: boolean;
  onSelect: () => void;
  onToggle: () => void;
}) {
  const { row, total, color } = props;
  const s = row.span;
  const pct = (ns: number) => `${Math.max(0, Math.min(100, (ns / total) * 100))}%`;
  const width = Math.max(0, row.end - row.start);
  const gap = row.gap;
  const gapNs = gap ? gap.to - gap.from : 0;
  const error = s.status_code === 'Error';
  return (
    <div
      id={`row-${s.span_id}`}
      role="treeitem"
      aria-level={row.depth + 1}
      aria-expanded={row.childCount ? !row.collapsed : undefined}
      aria-selected={props.selected}
      class={`wf-row${props.active ? ' active' : ''}${props.selected ? ' selected' : ''}${error ? ' has-error' : ''}`}
      data-span-id={s.span_id}
      data-depth={row.depth}
      data-source={row.browser ? 'browser' : 'backend'}
      onClick={props.onSelect}
    >
      <span class="wf-name" style={{ paddingLeft: `${Math.min(row.depth, 40) * 14 + 4}px` }}>
        {row.childCount > 0 ? (
          <button
            type="button"
            tabIndex={-1}
            class="twisty"
            aria-label={row.collapsed ? `Show ${row.childCount} children` : 'Hide children'}
            onClick={(e) => {
              e.stopPropagation();
              props.onToggle();
            }}
          >
            {row.collapsed ? '▸' : '▾'}
          </button>
        ) : (
          <span class="twisty" />
        )}
        <span class="dot" style={{ background: color }} aria-hidden="true" />
        <span class={`src ${row.browser ? 'browser' : 'backend'}`} title={row.browser ? 'Browser span' : 'Backend span'}>
          {row.browser ? 'web' : 'srv'}
        </span>
        <span class="ellipsis" title={`${s.service_name}: ${s.name}`}>
          {s.name}
        </span>
        {row.collapsed && <span class="badge">+{row.childCount}</span>}
        {row.orphan && <span class="badge" title="Its parent span is not in this trace">orphan</span>}
        {error && <span class="badge error">error</span>}
      </span>
      <span class="wf-time">
        {gap && (
          <span
            class={`gap ${gap.kind}${gapNs < 0 ? ' skewed' : ''}`}
            style={{ left: pct(Math.min(gap.from, gap.to)), width: pct(Math.abs(gapNs)) }}
            title={`${gap.kind} ${formatDuration(gapNs)}${gapNs < 0 ? ' (clocks disagree)' : ''}`}
          >
            <span class="gap-label">
              {gap.kind === 'uplink' ? '↑' : '↓'} {formatDuration(gapNs)}
            </span>
          </span>
        )}
        <span class="bar" style={{ left: pct(row.start), width: `max(2px, ${pct(width)})`, background: color }} />
        <span class="dur" style={durationLabel(row.start / total, (row.start + width) / total)}>
          {formatDuration(s.duration_ns)}
        </span>
      </span>
    </div>
  );
}

/** The duration label goes right of the bar, or left of it when the bar reaches the right edge. */
function durationLabel(from: number, to: number): Record<string, string> {
  if (to < 0.85) return { left: `calc(${to * 100}% + 4px)` };
  if (from > 0.15) return { right: `calc(${(1 - from) * 100}% + 4px)` };
  return { right: '4px', color: 'var(--on-bar)', fontWeight: '600' };
}

function Attrs({ attrs, title }: { attrs: Record<string, string>; title: string }) {
  const keys = Object.keys(attrs ?? {}).sort();
  if (!keys.length) return null;
  return (
    <details open>
      <summary>
        {title} ({keys.length})
      </summary>
      <dl class="attrs-list">
        {keys.map((k) => (
          <>
            <dt>{k}</dt>
            <dd>
              {k === 'session.id' ? (
                <Link href={`/sessions/${encodeURIComponent(attrs[k])}`}>{attrs[k]}</Link>
              ) : (
                attrs[k]
              )}
            </dd>
          </>
        ))}
      </dl>
    </details>
  );
}

function SpanPanel({ span, mode, onClose }: { span: Span; mode: TimeMode; onClose: () => void }) {
  const browser = isBrowserSpan(span);
  const shifted = spanTimes(span, 'corrected');
  const moved = shifted.start !== BigInt(span.start_time_unix_nano);
  return (
    <aside class="panel" aria-label="Span details">
      <div class="panel-head">
        <h2>{span.name}</h2>
        <button type="button" onClick={onClose} aria-label="Close details">
          ×
        </button>
      </div>
      <dl class="facts">
        <dt>Service</dt>
        <dd>
          {span.service_name} <span class="muted">({browser ? 'browser' : 'backend'})</span>
        </dd>
        <dt>Kind</dt>
        <dd>{span.kind}</dd>
        <dt>Status</dt>
        <dd class={span.status_code === 'Error' ? 'error-text' : ''}>
          {span.status_code}
          {span.status_message && `: ${span.status_message}`}
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(span.duration_ns)}</dd>
        <dt>Start</dt>
        <dd>
          {formatTime(span.start_time_unix_nano)} <span class="muted small">raw</span>
          {moved && (
            <>
              <br />
              {formatTime(shifted.start.toString())} <span class="muted small">corrected</span>
            </>
          )}
        </dd>
        {span.clock_offset_ns !== undefined && browser && (
          <>
            <dt>Clock offset</dt>
            <dd>{formatDuration(span.clock_offset_ns)}</dd>
          </>
        )}
        <dt>Span id</dt>
        <dd>
          <Id value={span.span_id} label="span id" />
        </dd>
        {span.parent_span_id && (
          <>
            <dt>Parent</dt>
            <dd>
              <Id value={span.parent_span_id} label="parent span id" />
            </dd>
          </>
        )}
        <dt>Link</dt>
        <dd>
          <CopyButton
            text={`${location.origin}/trace/${span.trace_id}?span=${span.span_id}${mode === 'raw' ? '&time=raw' : ''}`}
            label="link to this span"
          />
        </dd>
      </dl>
      <Attrs attrs={span.attributes} title="Attributes" />
      {span.events.length > 0 && (
        <details open>
          <summary>Events ({span.events.length})</summary>
          <ol class="events">
            {span.events.map((e) => (
              <li>
                <strong>{e.name}</strong>{' '}
                <span class="muted small">+{formatDuration(Number(BigInt(e.time_unix_nano) - BigInt(span.start_time_unix_nano)))}</span>
                <dl class="attrs-list">
                  {Object.entries(e.attributes).map(([k, v]) => (
                    <>
                      <dt>{k}</dt>
                      <dd>{v}</dd>
                    </>
                  ))}
                </dl>
              </li>
            ))}
          </ol>
        </details>
      )}
      {span.links.length > 0 && (
        <details open>
          <summary>Links ({span.links.length})</summary>
          <ul class="events">
            {span.links.map((l) => (
              <li>
                <Link href={`/trace/${l.trace_id}?span=${l.span_id}`}>
                  <code>{l.trace_id}</code>
                </Link>
              </li>
            ))}
          </ul>
        </details>
      )}
      <Attrs attrs={span.resource_attributes} title="Resource" />
      {span.scope_name && (
        <p class="muted small">
          Scope {span.scope_name} {span.scope_version}
        </p>
      )}
    </aside>
  );
}

/** The Logs page filtered to this trace, over the time its spans cover (raw clocks). */
function traceLogsLink(trace: Trace): string {
  let first: bigint | null = null;
  let last: bigint | null = null;
  for (const s of trace.spans) {
    const a = BigInt(s.start_time_unix_nano);
    const b = BigInt(s.end_time_unix_nano);
    if (first === null || a < first) first = a;
    if (last === null || b > last) last = b;
  }
  return logsLink({ traceId: trace.trace_id }, String(first ?? 0n), String(last ?? 0n));
}
