// A sparkline: one small line of a series, gaps where a step had no calls, with the series in
// words for screen readers.

import { sparkRuns } from '../lib/spanmetrics';

const W = 110;
const H = 24;

export function Sparkline({ values, label, color = 'var(--accent)' }: { values: readonly (number | null)[]; label: string; color?: string }) {
  const runs = sparkRuns(values, W, H);
  return (
    <svg class="spark" width={W} height={H} viewBox={`-1 0 ${W + 2} ${H}`} role="img" aria-label={label}>
      <line x1="0" x2={W} y1={H - 0.5} y2={H - 0.5} class="spark-base" />
      {runs.map((points) =>
        points.includes(' ') ? (
          <polyline points={points} fill="none" stroke={color} stroke-width="1.5" stroke-linejoin="round" />
        ) : (
          <circle cx={points.split(',')[0]} cy={points.split(',')[1]} r="1.5" fill={color} />
        ),
      )}
    </svg>
  );
}
