// The traced XMLHttpRequest of `instrumentXhr()` (browser/xhr.rs): `open`, `setRequestHeader`
// and `send` of `XMLHttpRequest.prototype` wrapped. `send` of an asynchronous request asks the
// SDK `start(id, method, url, origin)` (the protocol of fetch.js: origin null for the page's own,
// '' for what does not parse; the answer undefined, or [traceparent or null, whether to report])
// and reports `end(id, status)` on `loadend`, or `end(id, -1, reason)` after `error`, `abort` or
// `timeout`. The page sees the same responses, events, states and exceptions as without the SDK:
// the original methods run with the page's own arguments, the SDK only listens. A `traceparent`
// the page set itself is left as it is; synchronous requests are not touched at all.

export function tracewireXhr(tracestate, start, end) {
  if (typeof XMLHttpRequest !== 'function') return undefined;
  const proto = XMLHttpRequest.prototype;
  const NAMES = ['open', 'setRequestHeader', 'send'];
  const original = { open: proto.open, setRequestHeader: proto.setRequestHeader, send: proto.send };
  const KINDS = ['error', 'abort', 'timeout', 'loadend'];
  // Per request object: { method, url, async, own (the page set traceparent), finish (in flight) }.
  const state = new WeakMap();
  let next = 0;
  const report = (id, status, error) => {
    try { end(id, status, error); } catch (e) { /* the SDK is gone */ }
  };
  // Starts reporting request `id` of `xhr`: its outcome is known at `loadend`.
  const watch = (xhr, s, id) => {
    let reason;
    const listen = (e) => {
      if (e.type === 'loadend') s.finish(reason, xhr.status); else reason = e.type;
    };
    s.finish = (why, status) => {
      s.finish = undefined;
      for (const k of KINDS) xhr.removeEventListener(k, listen);
      if (why) report(id, -1, `XMLHttpRequest ${why}`); else report(id, status);
    };
    s.reason = () => reason;
    for (const k of KINDS) xhr.addEventListener(k, listen);
  };
  const patched = {
    open(method, url) {
      const previous = state.get(this);
      const done = this.readyState === 4;
      const status = this.status;
      const result = original.open.apply(this, arguments);
      try {
        // A request still in flight is cancelled by open() without events; one that is done
        // (open() called from a `load` listener) ends with its outcome.
        if (previous && previous.finish) {
          previous.finish(done ? previous.reason() : 'superseded by open()', status);
        }
        state.set(this, {
          method: String(method).toUpperCase(),
          url: String(url),
          async: arguments.length < 3 || Boolean(arguments[2]),
          own: false,
        });
      } catch (e) { state.delete(this); }
      return result;
    },
    setRequestHeader(name, value) {
      const result = original.setRequestHeader.apply(this, arguments);
      const s = state.get(this);
      if (s && String(name).toLowerCase() === 'traceparent') s.own = true;
      return result;
    },
    send() {
      const s = state.get(this);
      let id;
      try {
        if (s && s.async && !s.finish && this.readyState === 1) {
          let href = s.url;
          let origin = '';
          try {
            const url = new URL(href, document.baseURI);
            href = url.href;
            origin = url.origin === location.origin ? null : url.origin;
          } catch (e) { /* not a URL: recorded as given, never propagated to */ }
          const answer = start(++next, s.method, href, origin);
          if (answer !== undefined) {
            if (answer[0] && !s.own) {
              original.setRequestHeader.call(this, 'traceparent', answer[0]);
              if (tracestate) original.setRequestHeader.call(this, 'tracestate', tracestate);
            }
            if (answer[1]) {
              id = next;
              watch(this, s, id);
            }
          }
        }
      } catch (e) { /* telemetry failed: the request goes out as it is */ }
      try {
        return original.send.apply(this, arguments);
      } catch (e) {
        if (id !== undefined && s.finish) s.finish(e && e.name ? e.name : 'error');
        throw e;
      }
    },
  };
  for (const name of NAMES) proto[name] = patched[name];
  return () => {
    for (const name of NAMES) if (proto[name] === patched[name]) proto[name] = original[name];
  };
}
