// The one place that loads the wasm module. `createInitializer` takes the loader as a parameter so
// that the once-only logic can be unit-tested without a browser; the package uses `loadWasm`.
import type { Tracewire, TracewireConfig } from '../wasm/tracewire_sdk.js';

/** What the TypeScript layer needs from the wasm module once it is instantiated. */
export interface SdkModule {
  Tracewire: { start(config: TracewireConfig): Tracewire };
  TracedWebSocket: typeof import('../wasm/tracewire_sdk.js').TracedWebSocket;
}

/** Options of `init` on top of the SDK's own configuration. */
export interface InitOptions {
  /** Patch `window.fetch`: CLIENT spans and `traceparent` to allowed origins (default true). */
  instrumentFetch?: boolean;
  /**
   * Patch `window.WebSocket` so sockets opened by any library are traced (default false).
   * `useTracedWebSocket` traces its own sockets either way; leave this off when all sockets go
   * through the hook.
   */
  instrumentWebSockets?: boolean;
  /**
   * Patch `XMLHttpRequest` (axios and other XHR clients) as fetch is patched (default false). Needs
   * the SDK's `xhr` cargo feature in the package's build (`TRACEWIRE_SDK_FEATURES=xhr`); without
   * it `init` rejects.
   */
  instrumentXhr?: boolean;
  /**
   * Trace `EventSource` connections and events (default false). Needs the SDK's `eventsource`
   * cargo feature in the package's build (`TRACEWIRE_SDK_FEATURES=eventsource`); without it
   * `init` rejects.
   */
  instrumentEventSource?: boolean;
}

/** The argument of `init`: the SDK configuration plus the options above. */
export type InitConfig = TracewireConfig & InitOptions;

/** Loads and instantiates the wasm module. */
export type Loader = () => Promise<SdkModule>;

/** The state of a page's SDK, as `init` and the React bindings see it. */
export interface Initializer {
  /** Loads the wasm once and starts the client; later calls return the same client. */
  init(config: InitConfig): Promise<Tracewire>;
  /** The running client, or null before `init` has resolved. */
  current(): Tracewire | null;
  /** The pending or finished `init`, or null when `init` has not been called. */
  pending(): Promise<Tracewire> | null;
  /** The instantiated module (for `TracedWebSocket`), or null before it is loaded. */
  module(): SdkModule | null;
}

/** Splits the package's own options off the SDK configuration (the SDK rejects unknown keys). */
export function splitConfig(config: InitConfig): { sdk: TracewireConfig; options: InitOptions } {
  const { instrumentFetch, instrumentWebSockets, instrumentXhr, instrumentEventSource, ...sdk } = config;
  const options: InitOptions = {};
  if (instrumentFetch !== undefined) options.instrumentFetch = instrumentFetch;
  if (instrumentWebSockets !== undefined) options.instrumentWebSockets = instrumentWebSockets;
  if (instrumentXhr !== undefined) options.instrumentXhr = instrumentXhr;
  if (instrumentEventSource !== undefined) options.instrumentEventSource = instrumentEventSource;
  return { sdk, options };
}

/** The instrumentations that exist only in builds with one of the SDK's optional cargo features. */
const OPTIONAL = [
  ['instrumentXhr', 'xhr'],
  ['instrumentEventSource', 'eventsource'],
] as const;

/**
 * The methods (named as their options) of the optional instrumentations `options` asks for;
 * throws, before anything has started, when the loaded build lacks one.
 */
function optionalMethods(module: SdkModule, options: InitOptions): string[] {
  const methods = (module.Tracewire as { prototype?: Record<string, unknown> }).prototype ?? {};
  return OPTIONAL.filter(([option]) => options[option]).map(([option, feature]) => {
    if (typeof methods[option] !== 'function') {
      throw new Error(`tracewire: ${option} needs the SDK's \`${feature}\` cargo feature (TRACEWIRE_SDK_FEATURES=${feature})`);
    }
    return option;
  });
}

export function createInitializer(load: Loader): Initializer {
  let started: Promise<Tracewire> | null = null;
  let client: Tracewire | null = null;
  let loaded: SdkModule | null = null;

  async function start(config: InitConfig): Promise<Tracewire> {
    const module = await load();
    loaded = module;
    const { sdk, options } = splitConfig(config);
    const optional = optionalMethods(module, options);
    const tw = module.Tracewire.start(sdk);
    if (options.instrumentFetch ?? true) tw.instrumentFetch();
    if (options.instrumentWebSockets ?? false) tw.instrumentWebSockets();
    for (const method of optional) (tw as unknown as Record<string, () => void>)[method]!.call(tw);
    client = tw;
    return tw;
  }

  return {
    init(config) {
      if (started === null) {
        started = start(config);
        // A failed start (wasm blocked, invalid config) may be retried by a later call.
        started.catch(() => {
          started = null;
        });
      }
      return started;
    },
    current: () => client,
    pending: () => started,
    module: () => loaded,
  };
}

/** The package's loader: the wasm-bindgen module, with the wasm file resolved by the bundler. */
export const loadWasm: Loader = async () => {
  const glue = await import('../wasm/tracewire_sdk.js');
  // Vite and webpack 5 both turn `new URL('<relative file>', import.meta.url)` into an emitted
  // asset and its final URL, so no loader or plugin is needed.
  await glue.default({ module_or_path: new URL('../wasm/tracewire_sdk_bg.wasm', import.meta.url) });
  return glue;
};
