// The browser side of the SDK's core (loaded by browser/dom.rs and browser/export.rs): each
// function stands in for several typed browser calls from the wasm, so the SDK ships one small
// import instead of many. None of them throws.

/** The page's `window`, or undefined (in a worker). */
export function tracewireWindow() {
  return typeof window === 'object' ? window : undefined;
}

/** [type, message, stack] of any thrown value (JavaScript can throw anything, not only Error). */
export function tracewireDescribe(v) {
  if (v instanceof Error) return [v.name, v.message, typeof v.stack === 'string' ? v.stack : undefined];
  if (typeof v === 'string') return ['string', v];
  let text;
  try { text = JSON.stringify(v); } catch (e) { /* cyclic or BigInt: String() below */ }
  if (typeof text !== 'string') {
    try { text = String(v); } catch (e) { text = ''; }
  }
  return [typeof v, text];
}

/** An `error` event as [type, message, stack, file, line, column]. */
export function tracewireErrorEvent(ev) {
  const e = ev.error;
  const d = e === undefined || e === null ? ['Error', ev.message] : tracewireDescribe(e);
  return [d[0], d[1], d[2], ev.filename, ev.lineno, ev.colno];
}

/** `new RegExp(pattern, 'g')`, or null when the pattern is invalid. */
export function tracewireRegExp(pattern) {
  try { return new RegExp(pattern, 'g'); } catch (e) { return null; }
}

/** `s` with the matches of `re` replaced by `by`, or undefined when nothing matched. */
export function tracewireRedact(re, s, by) {
  re.lastIndex = 0;
  if (!re.test(s)) return undefined;
  re.lastIndex = 0;
  return s.replace(re, by);
}

/** `body` gzipped with CompressionStream, or null where the browser lacks it or it failed. */
async function gzip(body) {
  if (typeof CompressionStream !== 'function') return null;
  try {
    const stream = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    return null;
  }
}

/** POSTs an export body (a string, or gzipped bytes) as JSON: [status (0: network error), Retry-After]. */
async function post(url, body, key) {
  const headers = { 'content-type': 'application/json' };
  if (key !== undefined) headers['x-tracewire-key'] = key;
  if (typeof body !== 'string') headers['content-encoding'] = 'gzip';
  try {
    const r = await fetch(url, { method: 'POST', body, headers });
    return [r.status, r.headers.get('retry-after')];
  } catch (e) {
    return [0, null];
  }
}

/** A page-exit keepalive POST (text/plain, no preflight); tells `done(id, ok)` how it ended. */
export function tracewireKeepalive(id, url, body, done) {
  const report = (ok) => {
    try { done(id, ok); } catch (e) { /* the SDK is gone */ }
  };
  try {
    fetch(url, { method: 'POST', body, keepalive: true }).then((r) => report(r.ok), () => report(false));
  } catch (e) {
    report(false);
  }
}

/**
 * The export loop of browser/export/: returns `flush()`, which sends what the SDK hands out with
 * `next(first)` ([url, body, whether to gzip], or undefined when nothing is left) one request at a
 * time, and after each try asks `sent(status, retryAfter, gzipped)` for the delay before the next
 * try (negative: done with this request). Flushes queue up behind each other, so when one
 * resolves, everything recorded before it was called has been sent or counted as dropped. It
 * never rejects; `stop()` runs after the flush that `flush(true)` starts.
 */
export function tracewireExporter(next, sent, stop, key) {
  let tail = Promise.resolve();
  const run = async () => {
    try {
      for (let first = true, r; (r = next(first)) !== undefined; first = false) {
        const body = (r[2] && (await gzip(r[1]))) || r[1];
        for (;;) {
          const [status, retryAfter] = await post(r[0], body, key);
          const delay = sent(status, retryAfter, typeof body !== 'string');
          if (delay < 0) break;
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    } catch (e) { /* the SDK was dropped meanwhile */ }
  };
  return (last) => {
    tail = tail.then(run);
    if (last) tail = tail.then(() => { try { stop(); } catch (e) { /* dropped */ } });
    return tail;
  };
}

/** `navigator.sendBeacon(url, body)`: whether the browser accepted it. */
export function tracewireBeacon(url, body) {
  try { return navigator.sendBeacon(url, body); } catch (e) { return false; }
}
