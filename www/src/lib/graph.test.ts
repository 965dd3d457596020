import { describe, expect, it } from 'vitest';
import type { Edge } from '../api';
import { edgeWidth, errorLevel, layout } from './graph';

const edge = (from: string, to: string, calls = 1, errors = 0): Edge => ({ from, to, calls, errors, p95_ns: 1e6 });

describe('dependency map layout', () => {
  it('puts browsers first and each service one column after its furthest caller', () => {
    const l = layout(
      [{ name: 'web', browser: true }, { name: 'api', browser: false }, { name: 'tools', browser: false }, { name: 'db', browser: false }, { name: 'cron', browser: false }],
      [edge('web', 'api'), edge('api', 'tools'), edge('tools', 'db'), edge('api', 'db'), edge('api', 'web'), edge('cron', 'db')],
    );
    const at = Object.fromEntries(l.nodes.map((n) => [n.name, [n.column, n.row]]));
    expect(at).toEqual({ web: [0, 0], cron: [0, 1], api: [1, 0], tools: [2, 0], db: [3, 0] });
    expect([l.columns, l.rows]).toEqual([4, 2]);
  });

  it('survives loops and services only seen in edges', () => {
    const l = layout([], [edge('a', 'b'), edge('b', 'c'), edge('c', 'a'), edge('a', 'a')]);
    expect(l.nodes.map((n) => [n.name, n.column])).toEqual([['a', 0], ['b', 1], ['c', 2]]);
  });

  it('widens edges by calls and colours them by errors', () => {
    expect(edgeWidth(1, 1000)).toBe(1.5);
    expect(edgeWidth(1000, 1000)).toBe(12);
    expect(edgeWidth(5, 5)).toBeGreaterThan(edgeWidth(2, 5));
    expect([errorLevel(edge('a', 'b', 100, 0)), errorLevel(edge('a', 'b', 100, 2)), errorLevel(edge('a', 'b', 100, 5))]).toEqual(['ok', 'some', 'many']);
  });
});
