// The traced `fetch` installed by `instrumentFetch()` (browser/fetch.rs). For each request it
// asks the SDK `start(id, method, url, origin)`; origin is null for the page's own origin and ''
// for what does not parse as a URL. The answer is undefined (leave the request alone) or
// [traceparent or null, whether to report the outcome]; the outcome is reported as
// `end(id, status)`, or `end(id, -1, error)` when the fetch failed. The page's code sees exactly
// what the original fetch returns. Telemetry never breaks the request: any failure here sends it
// untouched.

export function tracewireFetch(original, tracestate, start, end) {
  let next = 0;
  const call = (input, init) => {
    try {
      return original.call(globalThis, input, init);
    } catch (e) {
      return Promise.reject(e);
    }
  };
  return function fetch(input, init) {
    const id = ++next;
    let answer;
    let traced = init;
    try {
      const request = input instanceof Request ? input : null;
      let href = request ? request.url : String(input);
      let origin = '';
      try {
        const url = new URL(href, location.href);
        href = url.href;
        origin = url.origin === location.origin ? null : url.origin;
      } catch (e) { /* not a URL: recorded as given, never propagated to */ }
      const method = String((init && init.method) || (request && request.method) || 'GET').toUpperCase();
      answer = start(id, method, href, origin);
      if (answer !== undefined && answer[0]) {
        const given = init && init.headers !== undefined ? init.headers : request ? request.headers : undefined;
        const headers = new Headers(given);
        headers.set('traceparent', answer[0]);
        if (tracestate) headers.set('tracestate', tracestate);
        traced = Object.assign({}, init, { headers });
      }
    } catch (e) {
      traced = init;
    }
    const result = call(input, traced);
    if (answer === undefined || !answer[1]) return result;
    return result.then(
      (response) => { end(id, response.status); return response; },
      (error) => { end(id, -1, error); throw error; },
    );
  };
}
