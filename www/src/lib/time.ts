// Timestamps from the API are unix nanoseconds as decimal strings: they exceed what a JavaScript
// number holds exactly, so differences are taken in BigInt and only the (small) result becomes a
// number.

/** Unix nanoseconds as a decimal string, as the query API writes them. */
export type UnixNanos = string;

/** `a - b` in nanoseconds, as a number (exact while the difference is below 2^53 ns, 104 days). */
export function diffNs(a: UnixNanos, b: UnixNanos): number {
  return Number(BigInt(a) - BigInt(b));
}

/** `t + delta` nanoseconds. */
export function addNs(t: UnixNanos, delta: number): UnixNanos {
  return (BigInt(t) + BigInt(Math.round(delta))).toString();
}

/** Unix seconds as a float (microsecond precision), the unit uPlot's time axes use. */
export function nsToSeconds(t: UnixNanos): number {
  return Number(BigInt(t) / 1000n) / 1e6;
}

/** Unix milliseconds as a number, for `Date`. */
export function nsToMillis(t: UnixNanos): number {
  return Number(BigInt(t) / 1000n) / 1e3;
}

/** Unix milliseconds to unix nanoseconds. */
export function millisToNs(ms: number): UnixNanos {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

/** A duration for people: `812 ns`, `45.2 µs`, `3.41 ms`, `1.20 s`, `2 m 5 s`. */
export function formatDuration(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '–';
  const sign = ns < 0 ? '−' : '';
  const a = Math.abs(ns);
  if (a < 1e3) return `${sign}${Math.round(a)} ns`;
  if (a < 1e6) return `${sign}${trim(a / 1e3)} µs`;
  if (a < 1e9) return `${sign}${trim(a / 1e6)} ms`;
  if (a < 60e9) return `${sign}${trim(a / 1e9)} s`;
  const s = Math.round(a / 1e9);
  return s % 60 ? `${sign}${Math.floor(s / 60)} m ${s % 60} s` : `${sign}${s / 60} m`;
}

/** A clock offset with its uncertainty: "−40.5 ms ± 0.80 ms", or the offset alone when the
 * uncertainty is not known. */
export function formatOffset(ns: number | null | undefined, uncertaintyNs?: number | null): string {
  const offset = formatDuration(ns);
  return uncertaintyNs === null || uncertaintyNs === undefined ? offset : `${offset} ± ${formatDuration(uncertaintyNs)}`;
}

function trim(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** A local wall-clock time with milliseconds, e.g. `2026-11-21 10:04:05.123`. */
export function formatTime(t: UnixNanos): string {
  const d = new Date(nsToMillis(t));
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
  );
}

/** Relative time ranges the UI offers, in milliseconds. */
export const RANGES: Record<string, number> = {
  '5m': 5 * 60e3,
  '15m': 15 * 60e3,
  '1h': 3600e3,
  '6h': 6 * 3600e3,
  '24h': 24 * 3600e3,
  '7d': 7 * 24 * 3600e3,
};
