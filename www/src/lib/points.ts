// The points of a chart's data (uPlot's aligned columns: x, then one column per series, with null
// where a series has no value): which of them a line cannot show, and which one a key moves to.

/** One column of aligned data. */
export type Values = ArrayLike<number | null | undefined>;

/** A point: its index into x and its series (1-based, as uPlot counts them). */
export interface Point {
  i: number;
  s: number;
}

const has = (v: number | null | undefined): v is number => v !== null && v !== undefined;

/** Indices of values with no neighbour on either side: a line through them draws nothing. */
export function lonePoints(ys: Values): number[] {
  const out: number[] = [];
  for (let i = 0; i < ys.length; i++) if (has(ys[i]) && !has(ys[i - 1]) && !has(ys[i + 1])) out.push(i);
  return out;
}

/**
 * The point that `key` moves to from `at` (null: none chosen yet), or undefined when the key does
 * not move. Left and Right go to the previous and next x that has a value, on the same series when
 * it has one there; Up and Down to the next higher and lower value at the same x; Home and End to
 * the first and last x with a value. Null when there is no point at all.
 */
export function movePoint(data: readonly Values[], at: Point | null, key: string): Point | null | undefined {
  const n = data[0]?.length ?? 0;
  const pointAt = (i: number, s: number): Point | null => {
    if (has(data[s]?.[i])) return { i, s };
    for (let t = 1; t < data.length; t++) if (has(data[t][i])) return { i, s: t };
    return null;
  };
  const scan = (from: number, dir: 1 | -1, s: number): Point | null => {
    for (let i = from; i >= 0 && i < n; i += dir) {
      const p = pointAt(i, s);
      if (p) return p;
    }
    return null;
  };
  if (key === 'Home') return scan(0, 1, at?.s ?? 1);
  if (key === 'End') return scan(n - 1, -1, at?.s ?? 1);
  if (!['ArrowRight', 'ArrowLeft', 'ArrowUp', 'ArrowDown'].includes(key)) return undefined;
  if (!at) return key === 'ArrowRight' ? scan(0, 1, 1) : scan(n - 1, -1, 1);
  if (key === 'ArrowRight') return scan(at.i + 1, 1, at.s) ?? at;
  if (key === 'ArrowLeft') return scan(at.i - 1, -1, at.s) ?? at;
  // Up and Down: the series with a value at this x, from the lowest value to the highest.
  const stack: number[] = [];
  for (let s = 1; s < data.length; s++) if (has(data[s][at.i])) stack.push(s);
  stack.sort((a, b) => (data[a][at.i] as number) - (data[b][at.i] as number) || a - b);
  const s = stack[stack.indexOf(at.s) + (key === 'ArrowUp' ? 1 : -1)];
  return s === undefined ? at : { i: at.i, s };
}
