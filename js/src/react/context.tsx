// <TracewireProvider> starts the page's SDK once and hands the client to the hooks below it.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import type { Tracewire } from '../../wasm/tracewire_sdk.js';
import { init, getClient } from '../index.js';
import type { InitConfig } from '../init.js';

/** Where the SDK is: loading, running, failed to start, or no provider above this component. */
export type TracewireStatus = 'loading' | 'ready' | 'failed' | 'absent';

/** The value the provider gives to its subtree. */
export interface TracewireContextValue {
  client: Tracewire | null;
  status: TracewireStatus;
  /** Why the SDK did not start (status `failed`). */
  error: unknown;
}

export const TracewireContext = createContext<TracewireContextValue>({
  client: null,
  status: 'absent',
  error: null,
});

export interface TracewireProviderProps {
  /**
   * The SDK configuration. It is read once: the SDK runs once per page, and a provider that
   * mounts again (or a second provider) gets the client that is already running.
   */
  config: InitConfig;
  children?: ReactNode;
}

/** Starts the SDK (loading the wasm in the background) and renders its children at once. */
export function TracewireProvider({ config, children }: TracewireProviderProps) {
  const [state, setState] = useState<TracewireContextValue>(() => {
    const client = getClient();
    return client ? { client, status: 'ready', error: null } : { client: null, status: 'loading', error: null };
  });
  // The first config wins (see `init`), so the effect runs once per mount.
  const [initial] = useState(config);
  useEffect(() => {
    let live = true;
    init(initial).then(
      (client) => {
        if (live) setState({ client, status: 'ready', error: null });
      },
      (error: unknown) => {
        // The application keeps working without telemetry.
        console.warn('tracewire: the SDK did not start:', error);
        if (live) setState({ client: null, status: 'failed', error });
      },
    );
    return () => {
      live = false;
    };
  }, [initial]);
  return <TracewireContext.Provider value={state}>{children}</TracewireContext.Provider>;
}

/** The running client, or null while it loads, when it failed, or without a provider. */
export function useTracewire(): Tracewire | null {
  return useContext(TracewireContext).client;
}

/** The provider's state, for components that show whether telemetry runs. */
export function useTracewireStatus(): TracewireContextValue {
  return useContext(TracewireContext);
}
