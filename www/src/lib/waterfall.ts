// Turns a trace's spans into the rows of the waterfall: one tree for browser and backend spans,
// on either the skew-corrected or the raw time line, with the uplink and downlink gaps of each
// WebSocket exchange.

import type { Span } from '../api';

/** Which clock the waterfall shows: browser spans moved onto the backend clock, or as recorded. */
export type TimeMode = 'corrected' | 'raw';

/** A browser span, by the collector's `source` or, on older collectors, the resource rule. */
export function isBrowserSpan(s: Span): boolean {
  if (s.source) return s.source === 'browser';
  return s.resource_attributes?.['telemetry.sdk.language'] === 'webjs';
}

/** Start and end in unix nanoseconds on the chosen time line. */
export function spanTimes(s: Span, mode: TimeMode): { start: bigint; end: bigint } {
  if (mode === 'corrected') {
    if (s.corrected_start_time_unix_nano && s.corrected_end_time_unix_nano) {
      return {
        start: BigInt(s.corrected_start_time_unix_nano),
        end: BigInt(s.corrected_end_time_unix_nano),
      };
    }
    // A collector that reports the session's offset but not the shifted times: shift here.
    if (isBrowserSpan(s) && s.clock_offset_ns) {
      const offset = BigInt(Math.round(s.clock_offset_ns));
      return {
        start: BigInt(s.start_time_unix_nano) + offset,
        end: BigInt(s.end_time_unix_nano) + offset,
      };
    }
  }
  return { start: BigInt(s.start_time_unix_nano), end: BigInt(s.end_time_unix_nano) };
}

/** The network part of a WebSocket exchange, drawn before the span it leads to. */
export interface Gap {
  kind: 'uplink' | 'downlink';
  /** Nanoseconds from the trace's origin. `to < from` means the clocks disagree (raw times). */
  from: number;
  to: number;
}

export interface WaterfallRow {
  span: Span;
  depth: number;
  /** Nanoseconds from the layout's origin. */
  start: number;
  end: number;
  browser: boolean;
  /** Children in the trace, whether shown or collapsed. */
  childCount: number;
  collapsed: boolean;
  /** The parent named by `parent_span_id` is not in the trace (not arrived, or lost). */
  orphan: boolean;
  gap: Gap | null;
  /** On the corrected time line, how far a browser span may be off because its session's
   * clock offset is uncertain (nanoseconds either way); 0 otherwise. */
  uncertainty: number;
}

export interface WaterfallLayout {
  rows: WaterfallRow[];
  /** Unix nanoseconds of the earliest start on this time line. */
  origin: bigint;
  /** From the origin to the latest end, at least 1 ns. */
  totalNs: number;
  /** Service names in order of first appearance, for stable colours. */
  services: string[];
  /** Distinct spans in the trace, including collapsed ones. */
  spanCount: number;
}

function byStart(times: Map<string, { start: bigint }>) {
  return (a: Span, b: Span): number => {
    const ta = times.get(a.span_id)!.start;
    const tb = times.get(b.span_id)!.start;
    if (ta !== tb) return ta < tb ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  };
}

/**
 * Lays the spans out as a depth-first tree, children ordered by start. Spans whose parent is
 * missing become roots (marked `orphan`), as do spans caught in a parent cycle, so every span is
 * shown exactly once. Children of ids in `collapsed` are counted but not listed.
 */
export function layoutWaterfall(
  spans: readonly Span[],
  mode: TimeMode,
  collapsed: ReadonlySet<string> = new Set(),
): WaterfallLayout {
  const byId = new Map<string, Span>();
  for (const s of spans) if (!byId.has(s.span_id)) byId.set(s.span_id, s);
  const unique = [...byId.values()];
  const times = new Map<string, { start: bigint; end: bigint }>();
  for (const s of unique) times.set(s.span_id, spanTimes(s, mode));

  const children = new Map<string, Span[]>();
  const roots: Span[] = [];
  for (const s of unique) {
    const parent = s.parent_span_id;
    if (parent && parent !== s.span_id && byId.has(parent)) {
      const list = children.get(parent);
      if (list) list.push(s);
      else children.set(parent, [s]);
    } else {
      roots.push(s);
    }
  }
  const order = byStart(times);
  for (const list of children.values()) list.sort(order);
  roots.sort(order);

  let origin: bigint | null = null;
  let last: bigint | null = null;
  for (const t of times.values()) {
    if (origin === null || t.start < origin) origin = t.start;
    if (last === null || t.end > last) last = t.end;
  }
  const o = origin ?? 0n;
  const totalNs = Math.max(1, Number((last ?? 0n) - o));

  const services: string[] = [];
  const seenServices = new Set<string>();
  const rows: WaterfallRow[] = [];
  const visited = new Set<string>();

  const emit = (root: Span) => {
    // Iterative, so a 5,000-deep chain cannot overflow the stack.
    const stack: { span: Span; depth: number }[] = [{ span: root, depth: 0 }];
    while (stack.length) {
      const { span, depth } = stack.pop()!;
      if (visited.has(span.span_id)) continue;
      visited.add(span.span_id);
      if (!seenServices.has(span.service_name)) {
        seenServices.add(span.service_name);
        services.push(span.service_name);
      }
      const t = times.get(span.span_id)!;
      const kids = children.get(span.span_id) ?? [];
      const isCollapsed = collapsed.has(span.span_id) && kids.length > 0;
      const browser = isBrowserSpan(span);
      const parent = span.parent_span_id ? byId.get(span.parent_span_id) : undefined;
      rows.push({
        span,
        depth,
        start: Number(t.start - o),
        end: Number(t.end - o),
        browser,
        childCount: kids.length,
        collapsed: isCollapsed,
        orphan: !!span.parent_span_id && !parent,
        gap: parent ? gapFor(span, browser, parent, times, o) : null,
        uncertainty: mode === 'corrected' && browser ? (span.clock_offset_uncertainty_ns ?? 0) : 0,
      });
      if (!isCollapsed) {
        for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i], depth: depth + 1 });
      } else {
        // Hidden, not lost: mark the subtree so the cycle sweep below does not list it.
        const hidden = [...kids];
        while (hidden.length) {
          const h = hidden.pop()!;
          if (visited.has(h.span_id)) continue;
          visited.add(h.span_id);
          hidden.push(...(children.get(h.span_id) ?? []));
        }
      }
    }
  };
  for (const r of roots) emit(r);
  // Whatever is left sits in a parent cycle; show it rather than hide it.
  for (const s of unique) if (!visited.has(s.span_id)) emit(s);
  return { rows, origin: o, totalNs, services, spanCount: unique.length };
}

function gapFor(
  span: Span,
  browser: boolean,
  parent: Span,
  times: Map<string, { start: bigint; end: bigint }>,
  origin: bigint,
): Gap | null {
  const parentBrowser = isBrowserSpan(parent);
  const t = times.get(span.span_id)!;
  const p = times.get(parent.span_id)!;
  if (!browser && parentBrowser && parent.kind === 'Producer') {
    // The browser sent, the backend started handling: the message was on the way up.
    return { kind: 'uplink', from: Number(p.start - origin), to: Number(t.start - origin) };
  }
  if (browser && !parentBrowser && span.kind === 'Consumer') {
    // The backend finished, the reply reached the page: on the way down.
    return { kind: 'downlink', from: Number(p.end - origin), to: Number(t.start - origin) };
  }
  return null;
}

/** The index of the row showing `spanId`, or -1. */
export function rowIndex(layout: WaterfallLayout, spanId: string): number {
  return layout.rows.findIndex((r) => r.span.span_id === spanId);
}

/** Span ids on the path from a root down to `spanId`, excluding itself: to expand on a deep link. */
export function ancestors(spans: readonly Span[], spanId: string): string[] {
  const byId = new Map(spans.map((s) => [s.span_id, s] as const));
  const out: string[] = [];
  const seen = new Set<string>([spanId]);
  let cur = byId.get(spanId);
  while (cur && cur.parent_span_id && !seen.has(cur.parent_span_id)) {
    seen.add(cur.parent_span_id);
    out.push(cur.parent_span_id);
    cur = byId.get(cur.parent_span_id);
  }
  return out;
}
