// The points of a chart's data (uPlot's aligned columns: x, then one column per series, with null
// where a series has no value): which of them a line cannot show.

/** One column of aligned data. */
export type Values = ArrayLike<number | null | undefined>;

const has = (v: number | null | undefined): v is number => v !== null && v !== undefined;

/** Indices of values with no neighbour on either side: a line through them draws nothing. */
export function lonePoints(ys: Values): number[] {
  const out: number[] = [];
  for (let i = 0; i < ys.length; i++) if (has(ys[i]) && !has(ys[i - 1]) && !has(ys[i + 1])) out.push(i);
  return out;
}
