// useRouteTracking: one `route.change` event per route, for React Router or any router.
import { useContext, useEffect, useRef } from 'react';
import type { TracewireAttributes } from '../../wasm/tracewire_sdk.js';
import { RouteTracker, type RouteChange, type RouteLocation } from '../route.js';
import { TracewireContext } from './context.js';

export interface RouteTrackingOptions {
  /** Count a change of the query string alone as a route change (default false). */
  includeSearch?: boolean;
}

/** The attributes of a `route.change` event. */
export function routeChangeAttributes(change: RouteChange): TracewireAttributes {
  const attributes: TracewireAttributes = { 'url.path': change.path };
  if (change.previousPath !== null) attributes['route.previous_path'] = change.previousPath;
  if (change.previousDurationMs !== null) attributes['route.previous_duration_ms'] = change.previousDurationMs;
  return attributes;
}

/**
 * Records a `route.change` event (kind `log` in the session view) each time the route changes,
 * the first view included. With React Router: `useRouteTracking(useLocation())`; elsewhere pass
 * `{ pathname }` or a path string. Changes before the SDK has loaded are recorded once it has.
 *
 * An event rather than a long span: a span open for the whole view would become the parent of
 * every message sent meanwhile and merge them into one trace.
 */
export function useRouteTracking(location: RouteLocation | string, options: RouteTrackingOptions = {}): void {
  const { client } = useContext(TracewireContext);
  const tracker = useRef<RouteTracker | null>(null);
  tracker.current ??= new RouteTracker(options.includeSearch ?? false);
  const waiting = useRef<RouteChange[]>([]);
  const key =
    typeof location === 'string' ? location : location.pathname + (location.search ?? '') + (location.hash ?? '');

  useEffect(() => {
    const change = tracker.current?.observe(location, Date.now());
    if (change) waiting.current.push(change);
    if (!client) return;
    for (const pending of waiting.current.splice(0)) {
      try {
        client.event('route.change', routeChangeAttributes(pending));
      } catch {
        // Telemetry must never break the page.
      }
    }
    // `key` stands for `location`, whose object identity changes on every render.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, client]);
}
