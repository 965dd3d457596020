// The traced `EventSource` class of `instrumentEventSource()` (browser/eventsource.rs): a
// subclass of the page's EventSource that reports to the SDK while `h.live`, through
// `h.on(kind, id, a)`: its creation (a: the URL; answers the source's id), `open`, `error` (a:
// readyState), `close()`, and each event a page listener is registered for (a: the
// MessageEvent). For every event type the page listens to (`addEventListener` or `onmessage`),
// the SDK adds one listener of its own, just before the page's first; it only reads the event.
// Page listeners are not wrapped, so the page sees the same events, states and errors.

const CREATED = 0, OPEN = 1, ERROR = 2, CLOSE = 3, EVENT = 4;

export function tracewireEventSourceClass(Base, h) {
  const ID = Symbol('tracewire');
  const OBSERVED = Symbol('tracewire.observed');
  const add = Base.prototype.addEventListener;
  // Reports to the SDK; a failure there is telemetry's, never the page's.
  const on = (kind, id, a) => {
    if (!h.live) return undefined;
    try { return h.on(kind, id, a); } catch (e) { return undefined; }
  };
  const observe = (source, type) => {
    try {
      const id = source[ID];
      if (id === undefined || type === 'open' || type === 'error' || source[OBSERVED].has(type)) return;
      source[OBSERVED].add(type);
      add.call(source, type, (e) => on(EVENT, id, e));
    } catch (e) { /* not observed: the page's listener still runs */ }
  };
  class EventSource extends Base {
    constructor(url, init) {
      if (init === undefined) super(url); else super(url, init);
      const id = on(CREATED, 0, this.url);
      if (id === undefined) return;
      this[ID] = id;
      this[OBSERVED] = new Set();
      add.call(this, 'open', () => on(OPEN, id));
      add.call(this, 'error', () => on(ERROR, id, this.readyState));
    }
    close() {
      if (this[ID] !== undefined && this.readyState !== 2) on(CLOSE, this[ID]);
      return super.close();
    }
    addEventListener(type, listener, options) {
      if (listener !== null && listener !== undefined) observe(this, String(type));
      return super.addEventListener(type, listener, options);
    }
    get onmessage() { return super.onmessage; }
    set onmessage(f) {
      if (typeof f === 'function') observe(this, 'message');
      super.onmessage = f;
    }
  }
  return EventSource;
}
