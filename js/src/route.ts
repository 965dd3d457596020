// Route-change bookkeeping, independent of any router: feed it each location, it says when the
// route changed and how long the previous one was shown.

/** A location as React Router's `useLocation()` returns it, or any `{ pathname }`. */
export interface RouteLocation {
  pathname: string;
  search?: string;
  hash?: string;
}

/** One route change, recorded as a `route.change` event. */
export interface RouteChange {
  /** The new route (pathname, plus the query string when `includeSearch`). */
  path: string;
  /** The previous route, or null on the first view. */
  previousPath: string | null;
  /** How long the previous route was shown, ms, or null on the first view. */
  previousDurationMs: number | null;
}

export class RouteTracker {
  private path: string | null = null;
  private since = 0;

  /** `includeSearch`: a change of the query string alone counts as a route change. */
  constructor(private readonly includeSearch = false) {}

  /** Notes the current location at time `nowMs`; returns the change, or null if the route is the same. */
  observe(location: RouteLocation | string, nowMs: number): RouteChange | null {
    const path = this.key(location);
    if (path === this.path) return null;
    const change: RouteChange = {
      path,
      previousPath: this.path,
      previousDurationMs: this.path === null ? null : Math.max(0, nowMs - this.since),
    };
    this.path = path;
    this.since = nowMs;
    return change;
  }

  private key(location: RouteLocation | string): string {
    if (typeof location === 'string') {
      const [pathAndSearch = ''] = location.split('#');
      return this.includeSearch ? pathAndSearch : (pathAndSearch.split('?')[0] ?? '');
    }
    const search = this.includeSearch ? (location.search ?? '') : '';
    return location.pathname + (search === '?' ? '' : search);
  }
}
