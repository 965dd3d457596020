// XMLHttpRequest tracing (the SDK's `xhr` cargo feature, in the package tests/browser/page/pkg
// that scripts/test-e2e-browser.sh builds): a page polling with plain XHR against the Rust demo
// backend gets CLIENT spans joined with the backend's server spans by `traceparent`, its poll
// storm tops the collector's hot endpoints, and the page's code sees exactly what it sees
// without the SDK.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { agentBackend, browser, collector, poll, staticServer, stopAll } from './support.mjs';

const PAGE = fileURLToPath(new URL('./page', import.meta.url));

let site;
let tw;
let backend;
let chrome;

/** A loopback port nothing listens on (bound, then released). */
async function deadPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

before(async () => {
  site = await staticServer(PAGE);
  tw = await collector(site);
  backend = await agentBackend(tw.otlp);
  chrome = await browser();
});

after(stopAll);

async function open(query) {
  const context = await chrome.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  const params = new URLSearchParams({ otlp: tw.otlp, backend: backend.http, ...query });
  await page.goto(`${site}/xhr.html?${params}`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  return { context, page, errors };
}

test('the page sees the same XHR responses, events, states and errors with the SDK as without', async () => {
  const dead = await deadPort();
  const runs = [];
  for (const sdk of ['0', '1']) {
    const { context, page, errors } = await open({ sdk });
    runs.push(await page.evaluate(([b, d]) => window.observe(b, d), [backend.http, dead]));
    if (sdk === '1') await page.evaluate(() => window.tw.flush());
    assert.deepEqual(errors, []);
    await context.close();
  }
  const [without, withSdk] = runs;
  assert.equal(without.ok.status, 200);
  assert.match(without.ok.responseText, /coder/);
  assert.equal(without.missing.status, 404);
  assert.ok(without.failed.seen.some((e) => e.startsWith('error:4:0')), JSON.stringify(without.failed));
  assert.ok(without.aborted.seen.some((e) => e.startsWith('abort:')), JSON.stringify(without.aborted));
  assert.equal(without.reused.second.status, 200);
  assert.equal(without.sync.status, 200);
  assert.match(without.unopened, /^InvalidStateError/);
  assert.deepEqual(withSdk, without);
});

test('XHR CLIENT spans join the backend\'s server spans, and an XHR poll storm tops the hot endpoints', async () => {
  const { context, page } = await open({ sdk: '1', fetch: '1' });
  const route = `GET ${backend.http}/api/agents`;
  const polls = 150;
  const ok = await page.evaluate(([url, n]) => window.storm(url, n, 4), [`${backend.http}/api/agents`, polls]);
  assert.equal(ok, polls);
  // Fetches of the same route count into the same per-route counter.
  await page.evaluate(async (url) => {
    for (let i = 0; i < 10; i += 1) await (await fetch(`${url}?fetch=${i}`)).text();
  }, `${backend.http}/api/agents`);
  const sessionId = await page.evaluate(async () => {
    await window.tw.flush();
    return window.tw.sessionId();
  });

  // Every request is counted once, XHR and fetch alike (the other tests' pages poll too).
  const hot = await poll(`${tw.api}/api/endpoints/hot?window=5m`, (b) =>
    b.sessions.some((s) => s.session_id === sessionId && s.requests >= polls + 10));
  assert.equal(hot.routes[0].route, route, JSON.stringify(hot.routes));
  const mine = hot.sessions.find((s) => s.session_id === sessionId);
  assert.equal(mine.route, route);
  assert.equal(mine.requests, polls + 10, JSON.stringify(hot.sessions));

  // Traced polls continue the page's XHR span on the backend (traceparent on XHR). The SDK
  // records spans for the first requests per route and interval (fetchSpansPerRoute: 20, XHR
  // and fetch together) and counts the rest.
  const { traces } = await poll(`${tw.api}/api/traces?service=e2e-xhr&name=GET&limit=500`,
    (b) => b.traces.filter((t) => t.span_count >= 3).length >= 10);
  assert.ok(traces.length <= 20 * 3, `${traces.length} XHR/fetch spans for ${polls + 10} requests`);
  for (const t of traces.filter((x) => x.span_count >= 3).slice(0, 10)) {
    const trace = await poll(`${tw.api}/api/traces/${t.trace_id}`, (x) => x.spans.length >= 3);
    const client = trace.spans.find((s) => s.source === 'browser');
    const handler = trace.spans.find((s) => s.name === 'GET /api/agents');
    assert.equal(handler.parent_span_id, client.span_id, 'the backend continued the XHR span');
    assert.equal(handler.service_name, 'agent-backend');
    assert.equal(client.kind, 'Client');
    assert.equal(client.name, 'GET');
    assert.equal(client.attributes['http.request.method'], 'GET');
    assert.equal(String(client.attributes['http.response.status_code']), '200');
    assert.equal(client.attributes['url.full'], `${backend.http}/api/agents`);
    assert.equal(client.attributes['session.id'], sessionId);
  }
  await context.close();
});

test('failed, missing and aborted XHRs become CLIENT spans with their error', async () => {
  const dead = await deadPort();
  const { context, page } = await open({ sdk: '1' });
  await page.evaluate(([b, d]) => window.observe(b, d), [backend.http, dead]);
  await page.evaluate(() => window.tw.flush());
  const { traces } = await poll(`${tw.api}/api/traces?service=e2e-xhr&status=error&limit=100`,
    (b) => b.traces.length >= 3);
  const spans = [];
  for (const t of traces) spans.push(...(await poll(`${tw.api}/api/traces/${t.trace_id}`, (x) => x.spans.length >= 1)).spans);
  const byUrl = (path) => spans.find((s) => s.status_code === 'Error' && s.attributes['url.full'].endsWith(path));
  assert.equal(byUrl('/api/nope').status_message, 'HTTP 404');
  assert.equal(String(byUrl('/api/nope').attributes['http.response.status_code']), '404');
  assert.ok(spans.some((s) => s.status_message === 'XMLHttpRequest error' && s.attributes['url.full'] === `${dead}/api/agents`),
    JSON.stringify(spans.map((s) => [s.status_message, s.attributes['url.full']])));
  assert.ok(spans.some((s) => s.status_message === 'XMLHttpRequest abort'));
  // The synchronous request went out untouched: no span for it.
  const { traces: all } = await poll(`${tw.api}/api/traces?service=e2e-xhr&limit=500`, (b) => b.traces.length > 0);
  for (const t of all) {
    const trace = await poll(`${tw.api}/api/traces/${t.trace_id}`, (x) => x.spans.length >= 1);
    assert.ok(!trace.spans.some((s) => (s.attributes['url.full'] ?? '').endsWith('/xhr.html')), 'sync XHR untraced');
  }
  await context.close();
});
