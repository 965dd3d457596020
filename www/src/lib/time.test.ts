import { describe, expect, it } from 'vitest';
import { addNs, diffNs, formatDuration, formatOffset, nsToSeconds } from './time';

describe('time', () => {
  it('subtracts unix-ns strings exactly', () => {
    expect(diffNs('1763700000123456789', '1763700000123456780')).toBe(9);
    expect(addNs('1763700000123456789', -9)).toBe('1763700000123456780');
    expect(nsToSeconds('1763700000123456789')).toBeCloseTo(1763700000.123457, 5);
  });

  it('formats durations in the unit that reads best', () => {
    expect(formatDuration(812)).toBe('812 ns');
    expect(formatDuration(45_200)).toBe('45.2 µs');
    expect(formatDuration(3_410_000)).toBe('3.41 ms');
    expect(formatDuration(-2_000_000)).toBe('−2.00 ms');
    expect(formatDuration(125e9)).toBe('2 m 5 s');
    expect(formatDuration(60e9)).toBe('1 m');
    expect(formatDuration(null)).toBe('–');
  });

  it('formats a clock offset with its uncertainty, or alone when that is unknown', () => {
    expect(formatOffset(-40_500_000, 800_000)).toBe('−40.5 ms ± 800 µs');
    expect(formatOffset(2_000_000_000, 1_250_000)).toBe('2.00 s ± 1.25 ms');
    expect(formatOffset(-40_500_000, null)).toBe('−40.5 ms');
    expect(formatOffset(-40_500_000)).toBe('−40.5 ms');
  });
});
