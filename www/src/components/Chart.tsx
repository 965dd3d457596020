// uPlot charts: time series (percentiles, rates) and the search scatter plot. Colours come from
// the page's CSS variables, so the charts follow light and dark mode.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef } from 'preact/hooks';
import { lonePoints } from '../lib/points';
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
  /** Called with the data index of the clicked (or keyboard-chosen) point. */
  onPick?: (index: number, seriesIdx: number) => void;
  /** For scatter charts: pick the nearest point in both x and y, not only in x. */
  nearest2d?: boolean;
  /** Text of the hover tooltip for a point. */
  describe?: (index: number, seriesIdx: number) => string;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

function nearestPoint(u: uPlot, left: number, top: number): [number, number] | null {
  let best: [number, number] | null = null;
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
        best = [i, s];
      }
    }
  }
  return best && bestD < 30 * 30 ? best : null;
}

export function Chart(props: ChartProps) {
  const { title, data, series, yUnit, height = 180, log = false, onPick, nearest2d, describe } = props;
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const picked = useRef(-1);
  const theme = useTheme();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssVar('--muted');
    const grid = cssVar('--grid');
    const axis: uPlot.Axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const opts: uPlot.Options = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true, live: !nearest2d },
      cursor: { drag: { x: false, y: false }, points: { show: !nearest2d } },
      scales: { x: { time: true, auto: false, range: xRange(data[0] as number[]) }, y: log ? { distr: 3 } : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } },
      axes: [{ ...axis, values: (_u, splits) => timeLabels(splits) }, { ...axis, label: yUnit, size: 60, ...(log ? decades(grid) : {}), values: (_u, vals) => vals.map((v) => (v === null || v === undefined ? '' : fmtNum(v))) }],
      series: [
        {},
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
    };
    const u = new uPlot(opts, data, el);
    plot.current = u;
    u.over.style.cursor = onPick ? 'pointer' : 'default';
    const onClick = (e: MouseEvent) => {
      if (!onPick) return;
      if (nearest2d) {
        const r = u.over.getBoundingClientRect();
        const hit = nearestPoint(u, e.clientX - r.left, e.clientY - r.top);
        if (hit) onPick(hit[0], hit[1]);
      } else if (u.cursor.idx !== null && u.cursor.idx !== undefined) {
        onPick(u.cursor.idx, 1);
      }
    };
    const onMove = (e: MouseEvent) => {
      if (!describe || !nearest2d) return;
      const r = u.over.getBoundingClientRect();
      const hit = nearestPoint(u, e.clientX - r.left, e.clientY - r.top);
      u.over.title = hit ? describe(hit[0], hit[1]) : '';
    };
    u.over.addEventListener('click', onClick);
    u.over.addEventListener('mousemove', onMove);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data, series, theme, height, log, yUnit]);

  const onKey = (e: KeyboardEvent) => {
    const u = plot.current;
    if (!u || nearest2d) return;
    const n = u.data[0].length;
    if (!n) return;
    let i = picked.current;
    if (e.key === 'ArrowRight') i = Math.min(n - 1, i + 1);
    else if (e.key === 'ArrowLeft') i = Math.max(0, i < 0 ? n - 1 : i - 1);
    else if (e.key === 'Home') i = 0;
    else if (e.key === 'End') i = n - 1;
    else if ((e.key === 'Enter' || e.key === ' ') && i >= 0 && onPick) {
      e.preventDefault();
      onPick(i, 1);
      return;
    } else return;
    e.preventDefault();
    picked.current = i;
    u.setCursor({ left: u.valToPos(u.data[0][i], 'x'), top: 10 });
  };

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div
        ref={box}
        class="chart-box"
        tabIndex={nearest2d ? -1 : 0}
        role="img"
        aria-label={
          nearest2d
            ? `${title}. The table below lists the same traces.`
            : `${title}. Arrow keys move between time buckets${onPick ? ', Enter shows the traces behind one' : ''}.`
        }
        onKeyDown={onKey}
      />
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

/** 24-hour local times, one line each; seconds only when the ticks are closer than a minute. */
function timeLabels(splits: number[]): string[] {
  const p = (n: number) => String(n).padStart(2, '0');
  const step = splits.length > 1 ? splits[1] - splits[0] : 60;
  const multiDay = splits.length > 1 && splits[splits.length - 1] - splits[0] > 86_400;
  return splits.map((v) => {
    const d = new Date(v * 1000);
    const hm = `${p(d.getHours())}:${p(d.getMinutes())}${step < 60 ? `:${p(d.getSeconds())}` : ''}`;
    return multiDay ? `${p(d.getMonth() + 1)}-${p(d.getDate())} ${hm}` : hm;
  });
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
  return v.toPrecision(2);
}
