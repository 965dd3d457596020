import { describe, expect, it } from 'vitest';
import { ancestors, isBrowserSpan, layoutWaterfall, rowIndex, spanTimes } from './waterfall';
import { span, WEBJS } from './testdata';

const T0 = 1763700000000000000n;
const at = (ms: number) => (T0 + BigInt(Math.round(ms * 1e6))).toString();

// A browser ws.send whose backend handler started 5 ms "before" it on the raw clocks: the browser
// clock runs 10 ms ahead of the server (offset θ = server − client = −10 ms).
function exchange() {
  const send = span({
    span_id: 'a1', name: 'ws.send run_agent', kind: 'Producer', service_name: 'web',
    resource_attributes: WEBJS, start_time_unix_nano: at(10), end_time_unix_nano: at(40),
  });
  const recv = span({
    span_id: 'b1', parent_span_id: 'a1', name: 'ws.receive run_agent', kind: 'Consumer',
    service_name: 'agent', start_time_unix_nano: at(5), end_time_unix_nano: at(20),
  });
  const db = span({
    span_id: 'b2', parent_span_id: 'b1', name: 'db.query', kind: 'Client', service_name: 'agent',
    start_time_unix_nano: at(8), end_time_unix_nano: at(12),
  });
  const reply = span({
    span_id: 'a2', parent_span_id: 'b1', name: 'ws.receive run_agent.reply', kind: 'Consumer',
    service_name: 'web', resource_attributes: WEBJS, start_time_unix_nano: at(35), end_time_unix_nano: at(35),
  });
  return { send, recv, db, reply };
}

describe('layoutWaterfall', () => {
  it('nests browser and backend spans in one tree, depth first, children by start', () => {
    const { send, recv, db, reply } = exchange();
    const layout = layoutWaterfall([reply, db, recv, send], 'raw');
    expect(layout.rows.map((r) => [r.span.span_id, r.depth])).toEqual([
      ['a1', 0], ['b1', 1], ['b2', 2], ['a2', 2],
    ]);
    expect(layout.rows.map((r) => r.browser)).toEqual([true, false, false, true]);
    expect(layout.services).toEqual(['web', 'agent']);
    expect(layout.spanCount).toBe(4);
  });

  it('measures rows from the earliest start', () => {
    const { send, recv } = exchange();
    const layout = layoutWaterfall([send, recv], 'raw');
    expect(layout.origin).toBe(BigInt(at(5)));
    expect(layout.rows[0].start).toBe(5e6);
    expect(layout.totalNs).toBe(35e6);
  });

  it('makes spans with a missing parent into marked roots', () => {
    const lost = span({ span_id: 'c1', parent_span_id: 'ffffffffffffffff' });
    const root = span({ span_id: 'c0', start_time_unix_nano: at(-1) });
    const layout = layoutWaterfall([lost, root], 'raw');
    expect(layout.rows.map((r) => [r.span.span_id, r.depth, r.orphan])).toEqual([
      ['c0', 0, false], ['c1', 0, true],
    ]);
  });

  it('shows spans caught in a parent cycle once each', () => {
    const x = span({ span_id: 'x', parent_span_id: 'y' });
    const y = span({ span_id: 'y', parent_span_id: 'x' });
    const layout = layoutWaterfall([x, y], 'raw');
    expect(layout.rows.map((r) => r.span.span_id).sort()).toEqual(['x', 'y']);
  });

  it('hides the children of a collapsed span but counts them', () => {
    const { send, recv, db, reply } = exchange();
    const layout = layoutWaterfall([send, recv, db, reply], 'raw', new Set(['b1']));
    expect(layout.rows.map((r) => r.span.span_id)).toEqual(['a1', 'b1']);
    expect(layout.rows[1]).toMatchObject({ collapsed: true, childCount: 2 });
    expect(layout.spanCount).toBe(4);
  });

  it('lays out a 5,000-deep chain without recursion', () => {
    const spans = Array.from({ length: 5000 }, (_, i) =>
      span({ span_id: `s${i}`, parent_span_id: i ? `s${i - 1}` : '', start_time_unix_nano: at(i), end_time_unix_nano: at(i + 1) }),
    );
    const layout = layoutWaterfall(spans.reverse(), 'raw');
    expect(layout.rows).toHaveLength(5000);
    expect(layout.rows[4999].depth).toBe(4999);
    expect(rowIndex(layout, 's4999')).toBe(4999);
    expect(ancestors(spans, 's3')).toEqual(['s2', 's1', 's0']);
  });

  it('draws the uplink before the backend child and the downlink before the reply', () => {
    const { send, recv, db, reply } = exchange();
    const raw = layoutWaterfall([send, recv, db, reply], 'raw');
    const byId = Object.fromEntries(raw.rows.map((r) => [r.span.span_id, r]));
    // Raw clocks: the backend "started" before the browser sent (negative uplink: skew).
    expect(byId.b1.gap).toEqual({ kind: 'uplink', from: 5e6, to: 0 });
    expect(byId.a2.gap).toEqual({ kind: 'downlink', from: 15e6, to: 30e6 });
    expect(byId.b2.gap).toBeNull();
    expect(byId.a1.gap).toBeNull();
  });
});

describe('skew shift', () => {
  it('uses the collector-corrected times on the corrected time line and raw times otherwise', () => {
    const { send } = exchange();
    const corrected = { ...send, source: 'browser' as const, clock_offset_ns: -10e6,
      corrected_start_time_unix_nano: at(0), corrected_end_time_unix_nano: at(30) };
    expect(spanTimes(corrected, 'corrected')).toEqual({ start: BigInt(at(0)), end: BigInt(at(30)) });
    expect(spanTimes(corrected, 'raw')).toEqual({ start: BigInt(at(10)), end: BigInt(at(40)) });
  });

  it('shifts browser spans by the clock offset when only the offset is given', () => {
    const { send, recv } = exchange();
    const s = { ...send, clock_offset_ns: -10e6 };
    expect(spanTimes(s, 'corrected')).toEqual({ start: BigInt(at(0)), end: BigInt(at(30)) });
    // Backend spans are the reference clock and never move.
    expect(spanTimes({ ...recv, clock_offset_ns: -10e6 }, 'corrected').start).toBe(BigInt(at(5)));
  });

  it('turns the skewed negative uplink into a positive one', () => {
    const { send, recv, db, reply } = exchange();
    const shift = (s: typeof send) => ({ ...s, clock_offset_ns: -10e6 });
    const layout = layoutWaterfall([shift(send), recv, db, shift(reply)], 'corrected');
    const byId = Object.fromEntries(layout.rows.map((r) => [r.span.span_id, r]));
    expect(layout.origin).toBe(BigInt(at(0)));
    expect(byId.b1.gap).toEqual({ kind: 'uplink', from: 0, to: 5e6 });
    expect(byId.a2.gap).toEqual({ kind: 'downlink', from: 20e6, to: 25e6 });
  });

  it("gives browser spans their session's offset uncertainty as a band on the corrected line only", () => {
    const { send, recv, db, reply } = exchange();
    const shift = (s: typeof send) => ({ ...s, clock_offset_ns: -10e6, clock_offset_uncertainty_ns: 0.8e6 });
    const spans = [shift(send), recv, db, shift(reply)];
    const bands = (mode: 'corrected' | 'raw') =>
      Object.fromEntries(layoutWaterfall(spans, mode).rows.map((r) => [r.span.span_id, r.uncertainty]));
    expect(bands('corrected')).toEqual({ a1: 0.8e6, b1: 0, b2: 0, a2: 0.8e6 });
    expect(bands('raw')).toEqual({ a1: 0, b1: 0, b2: 0, a2: 0 });
    // Unknown uncertainty (an older collector): no band.
    const old = layoutWaterfall([{ ...send, clock_offset_ns: -10e6 }, recv], 'corrected');
    expect(old.rows.map((r) => r.uncertainty)).toEqual([0, 0]);
  });

  it('keeps nanosecond precision on real timestamps', () => {
    const s = span({ span_id: 'p', start_time_unix_nano: '1763700000123456789', end_time_unix_nano: '1763700000123456790', clock_offset_ns: 1, resource_attributes: WEBJS });
    expect(spanTimes(s, 'corrected').start).toBe(1763700000123456790n);
  });

  it('tells browser spans by source first, then by the webjs resource', () => {
    expect(isBrowserSpan(span({ span_id: 'q', source: 'backend', resource_attributes: WEBJS }))).toBe(false);
    expect(isBrowserSpan(span({ span_id: 'q', resource_attributes: WEBJS }))).toBe(true);
    expect(isBrowserSpan(span({ span_id: 'q' }))).toBe(false);
  });
});
