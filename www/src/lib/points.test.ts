import { describe, expect, it } from 'vitest';
import { lonePoints, movePoint } from './points';

describe('lone points', () => {
  it('finds values with a gap on both sides, at the edges too', () => {
    expect(lonePoints([null, 5, null, 3, 4, null, 7])).toEqual([1, 6]);
    expect(lonePoints([2, null, null])).toEqual([0]);
    expect(lonePoints([null, null, 9])).toEqual([2]);
  });

  it('finds none in a line or in no data', () => {
    expect(lonePoints([1, 2, null, 3, 0])).toEqual([]);
    expect(lonePoints([null, null])).toEqual([]);
    expect(lonePoints([])).toEqual([]);
  });

  it('counts a zero as a value', () => {
    expect(lonePoints([null, 0, null])).toEqual([1]);
  });
});

describe('moving between points with the keyboard', () => {
  // x, then two series; index 0 has no value at all.
  const data = [
    [10, 20, 30, 40],
    [null, 5, null, 7],
    [null, 9, 8, null],
  ];

  it('starts at the first or the last point', () => {
    expect(movePoint(data, null, 'ArrowRight')).toEqual({ i: 1, s: 1 });
    expect(movePoint(data, null, 'Home')).toEqual({ i: 1, s: 1 });
    expect(movePoint(data, null, 'ArrowLeft')).toEqual({ i: 3, s: 1 });
    expect(movePoint(data, null, 'End')).toEqual({ i: 3, s: 1 });
    expect(movePoint(data, null, 'ArrowUp')).toEqual({ i: 3, s: 1 });
  });

  it('steps through time over gaps, keeping the series where it has a value', () => {
    expect(movePoint(data, { i: 1, s: 2 }, 'ArrowRight')).toEqual({ i: 2, s: 2 });
    expect(movePoint(data, { i: 1, s: 1 }, 'ArrowRight')).toEqual({ i: 2, s: 2 });
    expect(movePoint(data, { i: 2, s: 2 }, 'ArrowRight')).toEqual({ i: 3, s: 1 });
    expect(movePoint(data, { i: 3, s: 1 }, 'ArrowLeft')).toEqual({ i: 2, s: 2 });
    expect(movePoint(data, { i: 2, s: 2 }, 'Home')).toEqual({ i: 1, s: 2 });
  });

  it('stays at the ends', () => {
    expect(movePoint(data, { i: 3, s: 1 }, 'ArrowRight')).toEqual({ i: 3, s: 1 });
    expect(movePoint(data, { i: 1, s: 1 }, 'ArrowLeft')).toEqual({ i: 1, s: 1 });
  });

  it('goes up and down to the next higher and lower value at the same time', () => {
    expect(movePoint(data, { i: 1, s: 1 }, 'ArrowUp')).toEqual({ i: 1, s: 2 });
    expect(movePoint(data, { i: 1, s: 2 }, 'ArrowUp')).toEqual({ i: 1, s: 2 });
    expect(movePoint(data, { i: 1, s: 2 }, 'ArrowDown')).toEqual({ i: 1, s: 1 });
    expect(movePoint(data, { i: 2, s: 2 }, 'ArrowDown')).toEqual({ i: 2, s: 2 });
    // Equal values are ordered by series.
    const flat = [[1], [0], [0], [0]];
    expect(movePoint(flat, { i: 0, s: 1 }, 'ArrowUp')).toEqual({ i: 0, s: 2 });
    expect(movePoint(flat, { i: 0, s: 3 }, 'ArrowDown')).toEqual({ i: 0, s: 2 });
  });

  it('ignores other keys and finds nothing in empty data', () => {
    expect(movePoint(data, { i: 1, s: 1 }, 'a')).toBeUndefined();
    expect(movePoint([[], []], null, 'End')).toBeNull();
    expect(movePoint([[1, 2], [null, null]], null, 'ArrowRight')).toBeNull();
  });
});
