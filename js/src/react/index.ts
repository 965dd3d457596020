// `tracewire/react`: the provider, hooks and error boundary.
export {
  TracewireProvider,
  useTracewire,
  useTracewireStatus,
  TracewireContext,
  type TracewireContextValue,
  type TracewireProviderProps,
  type TracewireStatus,
} from './context.js';
export {
  useTracedWebSocket,
  type OutgoingMessage,
  type TracedWebSocketOptions,
  type TracedWebSocketResult,
} from './websocket.js';
export { TracewireErrorBoundary, type TracewireErrorBoundaryProps } from './boundary.js';
export { useRouteTracking, routeChangeAttributes, type RouteTrackingOptions } from './route.js';
