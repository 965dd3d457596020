// EventSource tracing (the SDK's `eventsource` cargo feature, in the package tests/browser/page/pkg
// that scripts/test-e2e-browser.sh builds): a small Server-Sent Events server (below) sends
// events, two of them carrying the context of a server span it exports to the collector (one in
// the data, one as the event id); the collector's traces show the browser's receive spans, those
// two continuing the server's traces, and the page's code sees exactly what it sees without the SDK.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { browser, collector, poll, staticServer, stopAll } from './support.mjs';

const PAGE = fileURLToPath(new URL('./page', import.meta.url));

let site;
let tw;
let sse;
let chrome;

/** Trace and span id of the server span behind event `n` of stream `seed` (the same every time). */
function ids(seed, n) {
  const hex = createHash('sha256').update(`${seed}/${n}`).digest('hex');
  return { traceId: hex.slice(0, 32), spanId: hex.slice(32, 48) };
}
const traceparent = ({ traceId, spanId }) => `00-${traceId}-${spanId}-01`;

/** Exports the server's `sse.send` PRODUCER span for `id` to the collector as OTLP/JSON. */
async function exportServerSpan(id, name) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const body = {
    resourceSpans: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'sse-server' } }] },
      scopeSpans: [{
        scope: { name: 'sse-test-server' },
        spans: [{ ...id, name, kind: 4, startTimeUnixNano: String(now - 1_000_000n), endTimeUnixNano: String(now) }],
      }],
    }],
  };
  const r = await fetch(`${tw.otlp}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(r.status, 200);
}

/**
 * `GET /events?seed=S[&export=1]`: four events, then the stream stays open. Event 2 carries its
 * server span's context in the data (JSON), event 3 as its id; event 4 sets no id (the browser
 * repeats event 3's). With `export=1` the server spans go to the collector. Anything else: 404.
 */
async function sseServer() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname !== '/events') return res.writeHead(404, { 'access-control-allow-origin': '*' }).end();
    const seed = url.searchParams.get('seed');
    if (url.searchParams.get('export') === '1') {
      await exportServerSpan(ids(seed, 2), 'sse.send message');
      await exportServerSpan(ids(seed, 3), 'sse.send price');
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'access-control-allow-origin': '*' });
    res.write('event: tick\ndata: plain 1\n\n');
    res.write(`data: {"traceparent":"${traceparent(ids(seed, 2))}","n":2}\n\n`);
    res.write(`event: price\nid: ${traceparent(ids(seed, 3))}\ndata: 12.5\n\n`);
    res.write('event: tick\ndata: plain 4\n\n');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, server };
}

before(async () => {
  site = await staticServer(PAGE);
  tw = await collector(site);
  sse = await sseServer();
  chrome = await browser();
});

after(async () => {
  sse.server.closeAllConnections();
  await new Promise((resolve) => sse.server.close(resolve));
  await stopAll();
});

async function run(sdk, seed) {
  const context = await chrome.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.goto(`${site}/eventsource.html?${new URLSearchParams({ otlp: tw.otlp, sdk })}`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const query = sdk === '1' ? `seed=${seed}&export=1` : `seed=${seed}`;
  const stream = await page.evaluate((url) => window.listen(url, 4), `${sse.url}/events?${query}`);
  const failed = await page.evaluate((url) => window.listen(url, 1), `${sse.url}/missing`);
  let sessionId;
  if (sdk === '1') {
    sessionId = await page.evaluate(async () => {
      await window.tw.flush();
      return window.tw.sessionId();
    });
  }
  await context.close();
  assert.deepEqual(errors, []);
  return { seen: { stream, failed }, sessionId };
}

test('the page sees the same EventSource events, states and errors with the SDK as without', async () => {
  const without = await run('0', 'same');
  const withSdk = await run('1', 'same');
  const tp3 = traceparent(ids('same', 3));
  assert.deepEqual(without.seen.stream.seen, [
    'created:0:true:false', 'open:1',
    'tick:plain 1::1:true',
    `message:{"traceparent":"${traceparent(ids('same', 2))}","n":2}::1:true`,
    `price:12.5:${tp3}:1:true`,
    `tick:plain 4:${tp3}:1:true`,
    'closed:2',
  ]);
  assert.deepEqual(without.seen.failed.seen, ['created:0:true:false', 'error:2', 'closed:2']);
  assert.deepEqual(withSdk.seen, without.seen);
});

test('receive spans continue the server\'s trace from the data or the id, and connections become spans', async () => {
  const { sessionId } = await run('1', 'traced');
  const fromData = ids('traced', 2);
  const fromId = ids('traced', 3);

  const dataTrace = await poll(`${tw.api}/api/traces/${fromData.traceId}`, (t) => t.spans.length >= 2);
  const server = dataTrace.spans.find((s) => s.span_id === fromData.spanId);
  assert.equal(server.service_name, 'sse-server');
  assert.equal(server.source, 'backend');
  const received = dataTrace.spans.find((s) => s.source === 'browser');
  assert.equal(received.name, 'sse.receive message');
  assert.equal(received.kind, 'Consumer');
  assert.equal(received.parent_span_id, fromData.spanId);
  assert.equal(received.attributes['ws.message.type'], 'message');
  assert.equal(received.attributes['messaging.system'], 'sse');
  assert.equal(received.attributes['sse.context_source'], 'data');
  assert.equal(received.attributes['session.id'], sessionId);

  // Event 4 repeats event 3's id without setting it: only event 3 continues that trace.
  const idTrace = await poll(`${tw.api}/api/traces/${fromId.traceId}`, (t) => t.spans.length >= 2);
  const browserSpans = idTrace.spans.filter((s) => s.source === 'browser');
  assert.deepEqual(browserSpans.map((s) => [s.name, s.parent_span_id, s.attributes['sse.context_source']]),
    [['sse.receive price', fromId.spanId, 'id']]);

  // The events without a context start traces of their own.
  const { traces: ticks } = await poll(
    `${tw.api}/api/traces?service=e2e-sse&name=${encodeURIComponent('sse.receive tick')}&limit=100`,
    (b) => b.traces.length >= 2);
  assert.ok(ticks.every((t) => t.trace_id !== fromId.traceId && t.trace_id !== fromData.traceId));

  // One sse.connect span per connection attempt: the stream's opened, the missing one failed.
  const { traces: connects } = await poll(
    `${tw.api}/api/traces?service=e2e-sse&name=sse.connect&limit=100`, (b) => b.traces.length >= 4);
  const spans = [];
  for (const t of connects) spans.push(...(await poll(`${tw.api}/api/traces/${t.trace_id}`, (x) => x.spans.length >= 1)).spans);
  const mine = spans.filter((s) => s.name === 'sse.connect' && s.attributes['session.id'] === sessionId);
  const opened = mine.find((s) => s.attributes['url.full'] === `${sse.url}/events`);
  assert.equal(opened.status_code, 'Unset', JSON.stringify(opened));
  assert.equal(String(opened.attributes['sse.reconnect_count']), '0');
  const failed = mine.find((s) => s.attributes['url.full'] === `${sse.url}/missing`);
  assert.equal(failed.status_code, 'Error');
  assert.equal(failed.status_message, 'EventSource connection failed');
});
