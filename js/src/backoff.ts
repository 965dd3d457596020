// The reconnect schedule of `useTracedWebSocket`: exponential backoff with jitter and a cap.

/** How a closed socket is reopened. */
export interface ReconnectOptions {
  /** Delay before the first reconnect, ms (default 500). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 10000). */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt (default 2). */
  factor?: number;
  /** Random spread of each delay, as a fraction (default 0.2, i.e. +-20%). */
  jitter?: number;
  /** Reconnect attempts after which the hook gives up (default: never gives up). */
  maxAttempts?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first), or null when the attempts are
 * used up. `random` returns a number in [0, 1), as `Math.random` does.
 */
export function reconnectDelay(
  attempt: number,
  options: ReconnectOptions = {},
  random: () => number = Math.random,
): number | null {
  const initial = Math.max(0, options.initialDelayMs ?? 500);
  const max = Math.max(initial, options.maxDelayMs ?? 10_000);
  const factor = Math.max(1, options.factor ?? 2);
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  const maxAttempts = options.maxAttempts ?? Infinity;
  if (attempt >= maxAttempts) return null;
  const base = Math.min(max, initial * factor ** attempt);
  const spread = base * jitter * (2 * random() - 1);
  return Math.round(Math.min(max, Math.max(0, base + spread)));
}
