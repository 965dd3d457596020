// The `tracewire` entry point: `init(config)` loads the wasm SDK once per page and returns the
// client. Everything else is the wasm SDK's own API, re-exported with its types.
import type { Tracewire, TracewireAttributes } from '../wasm/tracewire_sdk.js';
import { exceptionAttributes as exceptionAttributesOf } from './exception.js';
import { createInitializer, loadWasm, type InitConfig } from './init.js';

export type {
  Span,
  TracedWebSocket,
  Tracewire,
  TracewireAttributes,
  TracewireConfig,
  TracewireConsoleMethod,
  TracewireLogLevel,
  TracewireStats,
} from '../wasm/tracewire_sdk.js';
export type { InitConfig, InitOptions } from './init.js';
export { exceptionAttributes } from './exception.js';
export { RouteTracker, type RouteChange, type RouteLocation } from './route.js';
export { reconnectDelay, type ReconnectOptions } from './backoff.js';

const page = createInitializer(loadWasm);

/**
 * Loads the wasm SDK (once) and starts the client. Calling it again, from anywhere, returns the
 * same client; the configuration of later calls is ignored. A failed start rejects, and a later
 * call tries again.
 */
export function init(config: InitConfig): Promise<Tracewire> {
  return page.init(config);
}

/** The running client, or null while `init` has not resolved. */
export function getClient(): Tracewire | null {
  return page.current();
}

/** @internal The page's initializer, shared with `tracewire/react`. */
export function pageInitializer() {
  return page;
}

/**
 * Reports an error as an `exception` log record (kind `error` in the collector's session view).
 * Before `init` has resolved the report waits for it; without `init` it is dropped. Never throws.
 */
export function captureException(error: unknown, attributes: TracewireAttributes = {}): void {
  const record = (tw: Tracewire) => {
    try {
      tw.event('exception', { ...exceptionAttributesOf(error), ...attributes });
    } catch {
      // Telemetry must never break the page.
    }
  };
  const client = page.current();
  if (client) return record(client);
  page.pending()?.then(record, () => undefined);
}
