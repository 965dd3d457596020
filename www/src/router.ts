// A small history-API router: pages are real paths (`/trace/<id>`), which the collector answers
// with index.html, so every view has a link that can be shared or reloaded.

import { useEffect, useState } from 'preact/hooks';

const EVENT = 'tw:navigate';

/** Goes to `to` (path and query) without reloading the page. */
export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (to === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

export interface Loc {
  path: string;
  search: string;
}

/** The current path and query string, updated on navigation and on back/forward. */
export function useLocation(): Loc {
  const read = () => ({ path: location.pathname, search: location.search });
  const [loc, setLoc] = useState<Loc>(read);
  useEffect(() => {
    const update = () => setLoc(read());
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return loc;
}

/** Handles a click on an in-app link: plain left clicks navigate here, others keep the browser's behaviour. */
export function onLinkClick(e: MouseEvent, href: string): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(href);
}
