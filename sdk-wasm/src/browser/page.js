// The browser side of the SDK's core (loaded by browser/dom.rs and browser/export.rs): each
// function stands in for several typed browser calls from the wasm, so the SDK ships one small
// import instead of many. None of them throws.

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

/** A promise and the function that resolves it. */
export function tracewireLatch() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return [promise, resolve];
}

/** Resolves after `ms` milliseconds. */
export function tracewireSleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** `body` gzipped with CompressionStream, or null where the browser lacks it or it failed. */
export async function tracewireGzip(body) {
  if (typeof CompressionStream !== 'function') return null;
  try {
    const stream = new Blob([body]).stream().pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    return null;
  }
}

/**
 * POSTs an export body (a string, or gzipped bytes) as JSON. Resolves to [status, Retry-After],
 * status 0 for a network error.
 */
export async function tracewirePost(url, body, key) {
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

/** A page-exit keepalive POST (text/plain, no preflight); resolves to whether it succeeded. */
export async function tracewireKeepalive(url, body) {
  try {
    return (await fetch(url, { method: 'POST', body, keepalive: true })).ok;
  } catch (e) {
    return false;
  }
}

/** `navigator.sendBeacon(url, body)`: whether the browser accepted it. */
export function tracewireBeacon(url, body) {
  try { return navigator.sendBeacon(url, body); } catch (e) { return false; }
}
