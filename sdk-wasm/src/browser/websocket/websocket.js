// The JavaScript half of WebSocket tracing (browser/websocket/): the context insertion done on
// the page's own string, payload sizes, and the traced `WebSocket` class of
// `instrumentWebSockets()`.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const h32 = (n) => HEX[n >>> 24] + HEX[(n >>> 16) & 255] + HEX[(n >>> 8) & 255] + HEX[n & 255];

/** `data` with the context member inserted at `at` (trace and span id as 32-bit words). */
export function tracewireInsert(data, at, comma, prefix, suffix, t0, t1, t2, t3, s0, s1, flags) {
  return data.slice(0, at) + prefix + '00-' + h32(t0) + h32(t1) + h32(t2) + h32(t3) + '-' + h32(s0)
    + h32(s1) + '-' + HEX[flags & 255] + suffix + (comma ? ',' : '') + data.slice(at);
}

/** The global `WebSocket` constructor (also in workers), or undefined. */
export function tracewireWebSocket() {
  return globalThis.WebSocket;
}

/** Byte size of a binary payload (ArrayBuffer, typed array, DataView or Blob). */
export function tracewireSize(data) {
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return data instanceof Blob ? data.size : 0;
}

/** A payload-free socket's `url` as the page opened it: without the `added` context. */
export function tracewirePageUrl(ws, added) {
  Object.defineProperty(ws, 'url', { value: ws.url.replace(added, ''), enumerable: true });
}

// What the class reports through `h.on(event, id, a, b)` (browser/websocket/patch.rs, `Event`).
const CREATED = 0, SEND = 1, OPEN = 2, CLOSE = 3, ERROR = 4, MESSAGE = 5, BEFORE = 6, AFTER = 7, HS = 8;

/**
 * A subclass of `Base` (the page's WebSocket) whose instances report to the SDK while `h.live`:
 * creation (HS first may answer [URL to open, text added]), sends (the SDK may return the data
 * to send instead), lifecycle events, messages, and
 * each message listener's run (BEFORE returns a token for AFTER, or -1). It stays a WebSocket to
 * the page in every respect; telemetry failures never reach the page's code.
 */
export function tracewireSocketClass(Base, h) {
  const ID = Symbol('tracewire');
  const ON = Symbol('tracewire.onmessage');
  const wrapped = new WeakMap();
  const add = Base.prototype.addEventListener;
  // Reports to the SDK; a failure there is telemetry's, never the page's.
  const on = (event, id, a, b) => {
    if (!h.live) return undefined;
    try { return h.on(event, id, a, b); } catch (e) { return undefined; }
  };
  const wrap = (l) => {
    if (l === null || (typeof l !== 'function' && typeof l !== 'object')) return l;
    let w = wrapped.get(l);
    if (!w) {
      w = function (ev) {
        const t = this[ID] === undefined ? undefined : on(BEFORE, this[ID], ev);
        let ok = false;
        try {
          const r = typeof l === 'function' ? l.call(this, ev) : l.handleEvent(ev);
          ok = true;
          return r;
        } finally {
          if (t >= 0) on(AFTER, t, !ok);
        }
      };
      wrapped.set(l, w);
    }
    return w;
  };
  class WebSocket extends Base {
    constructor(url, protocols) {
      const p = on(HS, 0, String(url)), u = p ? p[0] : url;
      if (protocols === undefined) super(u); else super(u, protocols);
      if (p) tracewirePageUrl(this, p[1]);
      const id = on(CREATED, 0, String(url));
      if (id === undefined) return;
      this[ID] = id;
      add.call(this, 'open', () => on(OPEN, id, this));
      add.call(this, 'close', (e) => on(CLOSE, id, e));
      add.call(this, 'error', () => on(ERROR, id));
      add.call(this, 'message', (e) => on(MESSAGE, id, e));
    }
    send(data) {
      const out = this[ID] === undefined ? undefined : on(SEND, this[ID], this, data);
      return super.send(out === undefined ? data : out);
    }
    addEventListener(type, l, opts) { return super.addEventListener(type, type === 'message' ? wrap(l) : l, opts); }
    removeEventListener(type, l, opts) {
      return super.removeEventListener(type, type === 'message' && l ? (wrapped.get(l) || l) : l, opts);
    }
    get onmessage() { return this[ON] === undefined ? null : this[ON]; }
    set onmessage(f) { this[ON] = f; super.onmessage = typeof f === 'function' ? wrap(f) : f; }
  }
  return WebSocket;
}
