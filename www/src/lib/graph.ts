// The dependency map's layout: services in columns from the callers (browsers first) to the
// services they call, each edge's width by its calls and colour by its errors.

import type { Edge } from '../api';

export interface MapNode {
  name: string;
  browser: boolean;
  column: number;
  row: number;
}

export interface Layout {
  nodes: MapNode[];
  columns: number;
  rows: number;
}

/** Columns by the longest chain of calls that reaches each service (calls that close a loop are
 * left out of the count); browsers, and services nobody calls, in column 0. Within a column,
 * browsers first, then by name. */
export function layout(services: readonly { name: string; browser: boolean }[], edges: readonly Edge[]): Layout {
  const browser = new Map<string, boolean>();
  for (const s of services) browser.set(s.name, s.browser);
  for (const e of edges) for (const n of [e.from, e.to]) if (!browser.has(n)) browser.set(n, false);
  const order = (a: string, b: string) =>
    Number(browser.get(b)) - Number(browser.get(a)) || (a < b ? -1 : a > b ? 1 : 0);
  const names = [...browser.keys()].sort(order);
  const out = new Map<string, string[]>(names.map((n) => [n, []]));
  for (const e of edges) if (e.from !== e.to) out.get(e.from)!.push(e.to);
  for (const targets of out.values()) targets.sort(order);

  // Depth-first from the browsers, then from every other service in order: an edge back to a
  // service on the current path closes a loop and does not count.
  const forward: [string, string][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (n: string) => {
    state.set(n, 'open');
    for (const t of out.get(n)!) {
      if (state.get(t) === 'open') continue;
      forward.push([n, t]);
      if (!state.has(t)) visit(t);
    }
    state.set(n, 'done');
  };
  for (const n of names) if (!state.has(n)) visit(n);

  // Longest path over the forward edges (a DAG): relax until nothing changes.
  const column = new Map<string, number>(names.map((n) => [n, 0]));
  for (let changed = true, rounds = 0; changed && rounds <= names.length; rounds++) {
    changed = false;
    for (const [a, b] of forward) {
      if (browser.get(b)) continue;
      const c = column.get(a)! + 1;
      if (c > column.get(b)!) {
        column.set(b, c);
        changed = true;
      }
    }
  }
  const rows = new Map<number, number>();
  const nodes = names.map((name) => {
    const c = column.get(name)!;
    const row = rows.get(c) ?? 0;
    rows.set(c, row + 1);
    return { name, browser: !!browser.get(name), column: c, row };
  });
  return {
    nodes,
    columns: Math.max(0, ...nodes.map((n) => n.column)) + 1,
    rows: Math.max(0, ...rows.values()),
  };
}

/** Stroke width of an edge: 1.5 px for one call, up to 12 px for the busiest, by logarithm. */
export function edgeWidth(calls: number, maxCalls: number): number {
  if (maxCalls <= 1) return 1.5;
  return 1.5 + (10.5 * Math.log(Math.max(calls, 1))) / Math.log(maxCalls);
}

/** How bad an edge's errors are: none, some (below 5%), many. */
export function errorLevel(e: Edge): 'ok' | 'some' | 'many' {
  if (!e.errors) return 'ok';
  return e.errors / Math.max(e.calls, 1) < 0.05 ? 'some' : 'many';
}
