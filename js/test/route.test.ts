import { describe, expect, it } from 'vitest';
import { RouteTracker } from '../src/route.js';
import { routeChangeAttributes } from '../src/react/route.js';

describe('RouteTracker', () => {
  it('reports the first view, then only changes of the pathname, with the time spent', () => {
    const tracker = new RouteTracker();
    expect(tracker.observe({ pathname: '/' }, 1000)).toEqual({ path: '/', previousPath: null, previousDurationMs: null });
    expect(tracker.observe({ pathname: '/', search: '?tab=2', hash: '#x' }, 1500)).toBeNull();
    expect(tracker.observe({ pathname: '/agents' }, 4000)).toEqual({
      path: '/agents',
      previousPath: '/',
      previousDurationMs: 3000,
    });
    expect(tracker.observe('/agents?sort=name#top', 4100)).toBeNull();
    expect(tracker.observe('/', 4600)).toEqual({ path: '/', previousPath: '/agents', previousDurationMs: 600 });
  });

  it('counts query changes as route changes when asked', () => {
    const tracker = new RouteTracker(true);
    tracker.observe({ pathname: '/search', search: '?q=a' }, 0);
    expect(tracker.observe({ pathname: '/search', search: '?q=b' }, 10)?.path).toBe('/search?q=b');
    expect(tracker.observe('/search?q=b#hit', 20)).toBeNull();
  });
});

describe('routeChangeAttributes', () => {
  it('names the new route and, after the first view, the previous one', () => {
    expect(routeChangeAttributes({ path: '/', previousPath: null, previousDurationMs: null })).toEqual({ 'url.path': '/' });
    expect(routeChangeAttributes({ path: '/b', previousPath: '/a', previousDurationMs: 42 })).toEqual({
      'url.path': '/b',
      'route.previous_path': '/a',
      'route.previous_duration_ms': 42,
    });
  });
});
