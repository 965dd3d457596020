import { describe, expect, it } from 'vitest';
import { lonePoints } from './points';

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
