// The Logs page's histogram: matching records per step, stacked by severity (errors at the
// bottom). Dragging across it zooms the page's window to the dragged span; a click, or Enter on
// the step chosen with the arrow keys, zooms to one step. Colours follow the page's theme.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { LogHistogram } from '../api';
import { timeLabels, timeSpace } from './Chart';
import { LEVELS, LEVEL_COLORS, type Level } from '../lib/logs';
import { formatTime } from '../lib/time';
import { useTheme } from '../theme';

export interface HistogramProps {
  data: LogHistogram;
  /** The user asked for the window `[start, end)`, unix nanoseconds. */
  onZoom: (start: string, end: string) => void;
  /** The user picked a level in the legend. */
  onLevel?: (level: Level) => void;
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
}

/** Levels bottom to top: the most severe at the bottom, where they stay visible. */
const STACK: Level[] = [...LEVELS];

export function Histogram({ data, onZoom, onLevel }: HistogramProps) {
  const box = useRef<HTMLDivElement>(null);
  const latest = useRef(onZoom);
  latest.current = onZoom;
  const [said, setSaid] = useState('');
  const theme = useTheme();

  const steps = data.severities[0]?.count.length ?? 0;
  const start = BigInt(data.start_time_unix_nano);
  const step = BigInt(data.step_ns);
  const end = BigInt(data.end_time_unix_nano);
  const bounds = (i: number): [string, string] => {
    const from = start + step * BigInt(i);
    const to = from + step < end ? from + step : end;
    return [from.toString(), to.toString()];
  };
  const levels = useMemo(() => {
    const by = new Map(data.severities.map((s) => [s.severity, s.count]));
    return STACK.filter((l) => by.has(l)).map((l) => ({ level: l, count: by.get(l)! }));
  }, [data]);
  const describe = (i: number) => {
    const [from, to] = bounds(i);
    const parts = [...levels].reverse().filter((l) => l.count[i]).map((l) => `${l.count[i]} ${l.level}`);
    return `${formatTime(from)} to ${formatTime(to)}: ${parts.length ? parts.join(', ') : 'no records'}`;
  };

  useEffect(() => {
    const el = box.current;
    if (!el || steps === 0) return;
    const fg = cssVar('--muted');
    const grid = cssVar('--grid');
    const axis: uPlot.Axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const xs = Array.from({ length: steps }, (_, i) => Number(start + step * BigInt(i)) / 1e9);
    // Cumulative counts, bottom level first; drawn top first so each level shows as its band.
    const cumulative: number[][] = [];
    let below = new Array<number>(steps).fill(0);
    for (const l of levels) {
      below = below.map((v, i) => v + l.count[i]);
      cumulative.push(below);
    }
    const order = levels.map((_, k) => k).reverse();
    const bars = uPlot.paths.bars!({ size: [0.92, 80], align: 1 });
    let chosen = -1;
    const band = document.createElement('div');
    band.className = 'histogram-mark';
    const placeBand = (u: uPlot) => {
      band.style.display = chosen < 0 ? 'none' : 'block';
      if (chosen < 0) return;
      const left = u.valToPos(xs[chosen], 'x');
      const right = u.valToPos(xs[chosen] + Number(step) / 1e9, 'x');
      band.style.left = `${left}px`;
      band.style.width = `${Math.max(2, right - left)}px`;
    };
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 150,
      legend: { show: false },
      cursor: { drag: { x: true, y: false, setScale: false }, points: { show: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      scales: {
        x: { time: true, range: [Number(start) / 1e9, Number(end) / 1e9] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [{ ...axis, space: timeSpace, values: (_u, splits) => timeLabels(splits) }, { ...axis, size: 50, values: (_u, vals) => vals.map((v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : String(v))) }],
      series: [
        {},
        ...order.map<uPlot.Series>((k) => ({
          label: levels[k].level,
          fill: LEVEL_COLORS[levels[k].level],
          stroke: LEVEL_COLORS[levels[k].level],
          width: 0,
          paths: bars,
          points: { show: false },
        })),
      ],
      hooks: {
        draw: [placeBand],
        setSelect: [
          (u) => {
            const { left, width } = u.select;
            if (width < 3) return;
            const from = BigInt(Math.floor(u.posToVal(left, 'x') * 1e6)) * 1000n;
            const to = BigInt(Math.ceil(u.posToVal(left + width, 'x') * 1e6)) * 1000n;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            const clampedFrom = from < start ? start : from;
            const clampedTo = to > end ? end : to;
            if (clampedTo > clampedFrom) latest.current(clampedFrom.toString(), clampedTo.toString());
          },
        ],
      },
    };
    const u = new uPlot(opts, [xs, ...order.map((k) => cumulative[k])], el);
    u.over.appendChild(band);
    let down = 0;
    const onDown = (e: MouseEvent) => (down = e.clientX);
    const onClick = (e: MouseEvent) => {
      if (Math.abs(e.clientX - down) > 2) return;
      const i = u.cursor.idx;
      if (i === null || i === undefined) return;
      latest.current(...bounds(i));
    };
    const onMove = () => {
      const i = u.cursor.idx;
      u.over.title = i === null || i === undefined ? '' : describe(i);
    };
    const choose = (i: number) => {
      chosen = i;
      placeBand(u);
      setSaid(i < 0 ? '' : describe(i));
    };
    const onKey = (e: KeyboardEvent) => {
      if ((e.key === 'Enter' || e.key === ' ') && chosen >= 0) {
        e.preventDefault();
        latest.current(...bounds(chosen));
        return;
      }
      const next =
        e.key === 'ArrowRight' ? Math.min(steps - 1, chosen + 1)
        : e.key === 'ArrowLeft' ? Math.max(0, chosen < 0 ? steps - 1 : chosen - 1)
        : e.key === 'Home' ? 0
        : e.key === 'End' ? steps - 1
        : null;
      if (next === null) return;
      e.preventDefault();
      choose(next);
    };
    const onBlur = () => choose(-1);
    u.over.addEventListener('mousedown', onDown);
    u.over.addEventListener('click', onClick);
    u.over.addEventListener('mousemove', onMove);
    el.addEventListener('keydown', onKey);
    el.addEventListener('blur', onBlur);
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: 150 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      el.removeEventListener('keydown', onKey);
      el.removeEventListener('blur', onBlur);
      u.destroy();
      setSaid('');
    };
  }, [data, theme]);

  const totals = levels.map((l) => ({ level: l.level, total: l.count.reduce((a, b) => a + b, 0) })).reverse();
  return (
    <figure class="chart histogram">
      <figcaption>
        Records over time by severity <span class="muted small">({data.total.toLocaleString()} in the window; drag to zoom)</span>
      </figcaption>
      <ul class="legend levels" aria-label="Severities in the window">
        {totals.map((t) => (
          <li>
            <button type="button" class="link" onClick={() => onLevel?.(t.level)} title={`Show only ${t.level}`}>
              <span class="dot" style={{ background: LEVEL_COLORS[t.level] }} aria-hidden="true" />
              {t.level} {t.total.toLocaleString()}
            </button>
          </li>
        ))}
      </ul>
      <div
        ref={box}
        class="chart-box"
        tabIndex={0}
        role="application"
        aria-roledescription="histogram"
        aria-label="Records over time by severity. Left and right arrows move between steps, Enter zooms to the chosen step."
      />
      <p class="chart-said" aria-live="polite">
        {said}
      </p>
    </figure>
  );
}
