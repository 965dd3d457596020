import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../src/backoff.js';

const middle = () => 0.5; // no jitter: 2 * 0.5 - 1 = 0

describe('reconnectDelay', () => {
  it('doubles from 500 ms up to the 10 s cap by default', () => {
    const schedule = Array.from({ length: 8 }, (_, attempt) => reconnectDelay(attempt, {}, middle));
    expect(schedule).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });

  it('follows the configured schedule', () => {
    const options = { initialDelayMs: 100, factor: 3, maxDelayMs: 1000 };
    const schedule = Array.from({ length: 4 }, (_, attempt) => reconnectDelay(attempt, options, middle));
    expect(schedule).toEqual([100, 300, 900, 1000]);
  });

  it('spreads each delay by the jitter fraction and never beyond the cap', () => {
    expect(reconnectDelay(1, {}, () => 0)).toBe(800);
    expect(reconnectDelay(1, {}, () => 0.999999)).toBe(1200);
    expect(reconnectDelay(1, { jitter: 0 }, () => 0)).toBe(1000);
    expect(reconnectDelay(10, {}, () => 0.999999)).toBe(10000);
  });

  it('gives up after maxAttempts', () => {
    expect(reconnectDelay(2, { maxAttempts: 3 }, middle)).toBe(2000);
    expect(reconnectDelay(3, { maxAttempts: 3 }, middle)).toBeNull();
    expect(reconnectDelay(0, { maxAttempts: 0 }, middle)).toBeNull();
  });
});
