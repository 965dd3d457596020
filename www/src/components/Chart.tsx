// uPlot charts: time series (percentiles, rates) and the search scatter plot. Colours come from
// the page's CSS variables, so the charts follow light and dark mode.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { type Point, lonePoints, movePoint } from '../lib/points';
import { useTheme } from '../theme';

export interface SeriesSpec {
  label: string;
  color: string;
  /** Points only, no line (scatter). */
  points?: boolean;
  width?: number;
}

export interface ChartProps {
  /** Accessible name, also the heading of the chart. */
  title: string;
  /** uPlot aligned data: x (unix seconds) then one column per series. */
  data: uPlot.AlignedData;
  series: SeriesSpec[];
  yUnit: string;
  height?: number;
  log?: boolean;
  /** Called with the clicked point, or the one chosen with the arrow keys and Enter. */
  onPick?: (index: number, seriesIdx: number) => void;
  /** What Enter on a point does, read out with the chart's name, e.g. "opens its trace". */
  pickHint?: string;
  /** For scatter charts: a click picks the nearest point in both x and y, not only in x. */
  nearest2d?: boolean;
  /** A point in words, for its tooltip and for the keyboard; by default its series and value. */
  describe?: (index: number, seriesIdx: number) => string;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function nearestPoint(u: uPlot, left: number, top: number): Point | null {
  let best: Point | null = null;
  let bestD = Infinity;
  const xs = u.data[0];
  for (let s = 1; s < u.data.length; s++) {
    const ys = u.data[s];
    for (let i = 0; i < xs.length; i++) {
      const y = ys[i];
      if (y === null || y === undefined) continue;
      const dx = u.valToPos(xs[i], 'x') - left;
      const dy = u.valToPos(y, 'y') - top;
      const d = dx * dx + dy * dy;
      if (d < bestD) {
        bestD = d;
        best = { i, s };
      }
    }
  }
  return best && bestD < 30 * 30 ? best : null;
}

/** On a line chart: the point at x index `i` whose value is drawn nearest to `top`. */
function nearestInColumn(u: uPlot, i: number, top: number): Point | null {
  let best: Point | null = null;
  let bestD = Infinity;
  for (let s = 1; s < u.data.length; s++) {
    const y = u.data[s][i];
    if (y === null || y === undefined) continue;
    const d = Math.abs(u.valToPos(y, 'y') - top);
    if (d < bestD) {
      bestD = d;
      best = { i, s };
    }
  }
  return best;
}

export function Chart(props: ChartProps) {
  const { title, data, series, yUnit, height = 180, log = false, onPick, pickHint, nearest2d } = props;
  const box = useRef<HTMLDivElement>(null);
  // The plot's handlers outlive a render; they read onPick and describe from the latest props.
  const latest = useRef(props);
  latest.current = props;
  const [said, setSaid] = useState('');
  const theme = useTheme();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssVar('--muted');
    const grid = cssVar('--grid');
    const axis: uPlot.Axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    // The point chosen by keyboard or click, ringed while the chart has focus.
    let chosen: Point | null = null;
    const ring = document.createElement('div');
    ring.className = 'chart-mark';
    const placeRing = (u: uPlot) => {
      ring.style.display = chosen ? 'block' : 'none';
      if (!chosen) return;
      ring.style.left = `${u.valToPos(u.data[0][chosen.i], 'x')}px`;
      ring.style.top = `${u.valToPos(u.data[chosen.s][chosen.i] ?? 0, 'y')}px`;
    };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: !nearest2d },
      cursor: { drag: { x: false, y: false }, points: { show: !nearest2d } },
      scales: { x: { time: true, auto: false, range: xRange(data[0] as number[]) }, y: log ? { distr: 3 } : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [
        { ...axis, space: timeSpace, values: (_u, splits) => timeLabels(splits) },
        {
          ...axis,
          label: yUnit,
          // Wide enough for the longest value (about 7 px a character; none yet on the first pass),
          // so no value runs into the unit.
          size: (_u, vals) => Math.max(60, 20 + 7 * Math.max(0, ...(vals ?? []).map((v) => v.length))),
          ...(log ? decades(grid) : {}),
          values: (_u, vals) => vals.map((v) => (v === null || v === undefined ? '' : fmtNum(v))),
        },
      ],
      series: [
        { value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' },
        ...series.map<uPlot.Series>((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 1.5,
          spanGaps: false,
          value: (_u, v) => (v === null || v === undefined ? '–' : `${fmtNum(v)} ${yUnit}`),
          ...(s.points
            ? { paths: () => null, points: { show: true, size: 7, fill: s.color, stroke: s.color, width: 1 } }
            : // A line needs two neighbours; a value between gaps gets a dot, or nothing would show it.
              { points: { show: false, filter: (u: uPlot, si: number) => lonePoints(u.data[si]), size: 6, fill: s.color } }),
        })),
      ],
      hooks: { draw: [placeRing] },
    };
    const u = new uPlot(opts, data, el);
    u.over.appendChild(ring);
    u.over.style.cursor = onPick ? 'pointer' : 'default';
    const say = (p: Point) => {
      const { describe } = latest.current;
      const what = describe ? describe(p.i, p.s) : `${series[p.s - 1].label}: ${fmtNum(u.data[p.s][p.i] ?? 0)} ${yUnit}`;
      return `${clock(u.data[0][p.i], true)} · ${what}`;
    };
    const choose = (p: Point | null) => {
      chosen = p;
      placeRing(u);
      setSaid(p ? say(p) : '');
    };
    const onClick = (e: MouseEvent) => {
      const r = u.over.getBoundingClientRect();
      const idx = u.cursor.idx;
      const p = nearest2d
        ? nearestPoint(u, e.clientX - r.left, e.clientY - r.top)
        : idx === null || idx === undefined
          ? null
          : nearestInColumn(u, idx, e.clientY - r.top);
      if (!p) return;
      choose(p);
      latest.current.onPick?.(p.i, p.s);
    };
    const onMove = (e: MouseEvent) => {
      const { describe } = latest.current;
      if (!describe || !nearest2d) return;
      const r = u.over.getBoundingClientRect();
      const hit = nearestPoint(u, e.clientX - r.left, e.clientY - r.top);
      u.over.title = hit ? describe(hit.i, hit.s) : '';
    };
    const onKey = (e: KeyboardEvent) => {
      const pick = latest.current.onPick;
      if ((e.key === 'Enter' || e.key === ' ') && chosen && pick) {
        e.preventDefault();
        pick(chosen.i, chosen.s);
        return;
      }
      const next = movePoint(u.data, chosen, e.key);
      if (next === undefined) return;
      e.preventDefault();
      if (!next) return;
      choose(next);
      // The cursor follows, so a live legend shows every series at this time.
      u.setCursor({ left: u.valToPos(u.data[0][next.i], 'x'), top: u.valToPos(u.data[next.s][next.i] ?? 0, 'y') });
    };
    const onBlur = () => choose(null);
    u.over.addEventListener('click', onClick);
    u.over.addEventListener('mousemove', onMove);
    el.addEventListener('keydown', onKey);
    el.addEventListener('blur', onBlur);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      el.removeEventListener('keydown', onKey);
      el.removeEventListener('blur', onBlur);
      u.destroy();
      setSaid('');
    };
  }, [data, series, theme, height, log, yUnit]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div
        ref={box}
        class="chart-box"
        tabIndex={0}
        role="application"
        aria-roledescription="chart"
        aria-label={`${title}. Arrow keys move between points${onPick && pickHint ? `, Enter ${pickHint}` : ''}.`}
      />
      <p class="chart-said" aria-live="polite">
        {said}
      </p>
    </figure>
  );
}

/** The data's own time span, padded: a lone point sits in the middle of a minute, not of years. */
function xRange(xs: number[]): [number, number] {
  if (!xs.length) return [Date.now() / 1e3 - 60, Date.now() / 1e3];
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const pad = Math.max((max - min) * 0.04, 30);
  return [min - pad, max + pad];
}

/** Room per time tick: labels with seconds (ticks under a minute apart at 50 px) are wider. */
export function timeSpace(_u: uPlot, _axis: number, min: number, max: number, width: number): number {
  return ((max - min) / width) * 50 < 60 ? 70 : 50;
}

/** 24-hour local times, one line each: the date (`11-21`) at midnight, seconds only when the ticks are closer than a minute. */
export function timeLabels(splits: number[]): string[] {
  const seconds = splits.length > 1 && splits[1] - splits[0] < 60;
  return splits.map((v) => {
    const d = new Date(v * 1000);
    return d.getHours() || d.getMinutes() || d.getSeconds() ? clock(v, seconds) : `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  });
}

/** Unix seconds as a 24-hour local time: `14:05`, or `14:05:09`. */
function clock(v: number, seconds: boolean): string {
  const d = new Date(v * 1000);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}${seconds ? `:${pad2(d.getSeconds())}` : ''}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Log axes: label and draw lines at powers of ten only. */
function decades(grid: string): Partial<uPlot.Axis> {
  const filter = (_u: uPlot, splits: number[]) => splits.map((v) => (isPow10(v) ? v : null));
  return { filter, grid: { stroke: grid, width: 1, filter }, ticks: { stroke: grid, width: 1, filter } };
}

function isPow10(v: number): boolean {
  const l = Math.log10(v);
  return Math.abs(l - Math.round(l)) < 1e-9;
}

function fmtNum(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return `${(v / 1000).toFixed(a >= 10000 ? 0 : 1)}k`;
  if (a >= 10) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return String(Number(v.toPrecision(2)));
}
