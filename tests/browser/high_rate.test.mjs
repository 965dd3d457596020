// High-rate sockets end to end (issue 19): a page sends 1,500 chat messages at once through the
// patched window.WebSocket to a real backend (the Rust example and the Python one). Beyond the
// SDK's span allowance per socket and message type, messages are counted instead of traced (one
// in K still traced), and the collector's dashboard answers cover every message: the traced
// round trips plus the counted sends, with the counted round-trip times in the percentiles, and
// nothing dropped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { agentBackend, browser, collector, poll, pythonBackend, staticServer, stopAll } from './support.mjs';

const PAGE = fileURLToPath(new URL('./page', import.meta.url));
const MESSAGES = 1_500;
const ALLOWANCE = 20;
const ONE_IN = 50;

let site;
let chrome;

before(async () => {
  site = await staticServer(PAGE);
  chrome = await browser();
});

after(stopAll);

for (const { name, start, service } of [
  { name: 'Rust', start: agentBackend, service: 'agent-backend' },
  { name: 'Python', start: pythonBackend, service: 'python-backend' },
]) {
  test(`${name} backend: a burst of ${MESSAGES} messages is counted beyond the allowance, and the dashboard covers every one`, { timeout: 120_000 }, async () => {
    // A collector per backend, so the dashboard's answers are this run's alone.
    const tw = await collector(site);
    const backend = await start(tw.otlp);
    const context = await chrome.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e));
    const cfg = { wsSpansPerType: ALLOWANCE, wsTraceOneIn: ONE_IN, wsRateIntervalMs: 1_000 };
    await page.goto(`${site}/index.html?otlp=${encodeURIComponent(tw.otlp)}&cfg=${encodeURIComponent(JSON.stringify(cfg))}`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
    const messages = Array.from({ length: MESSAGES }, (_, i) => ({ type: 'chat', agent_id: 'coder', text: `m${i}`, id: i }));
    const startedNs = BigInt(Date.now() - 60_000) * 1_000_000n;
    const replies = await page.evaluate(([u, m]) => window.burst(u, m), [backend.ws, messages]);
    assert.equal(replies, MESSAGES);
    const { sessionId, stats } = await page.evaluate(async () => {
      await window.tw.flush();
      return { sessionId: window.tw.sessionId(), stats: window.tw.stats() };
    });
    await context.close();
    const window_ = `start=${startedNs}&end=${BigInt(Date.now() + 60_000) * 1_000_000n}`;

    // Every message is in the dashboard: traced round trips and counted sends add up to all.
    const types = await poll(`${tw.api}/api/ws/message-types?${window_}`, (b) =>
      b.types.some((t) => t.message_type === 'chat' && t.count === MESSAGES));
    const chat = types.types.find((t) => t.message_type === 'chat');
    assert.equal(chat.traced + chat.counted, MESSAGES, JSON.stringify(chat));
    assert.ok(chat.counted >= MESSAGES / 2, `most were counted: ${JSON.stringify(chat)}`);
    // The allowance of the first interval, and one in K beyond it, kept full traces.
    assert.ok(chat.traced >= ALLOWANCE && chat.traced >= Math.floor(MESSAGES / ONE_IN),
      `traced examples: ${JSON.stringify(chat)}`);
    assert.ok(chat.traced < MESSAGES / 2, JSON.stringify(chat));
    assert.equal(chat.errors, 0);
    assert.ok(chat.p50_total_ns > 0 && chat.p95_total_ns >= chat.p50_total_ns, JSON.stringify(chat));
    assert.ok(chat.example_trace_id, 'a traced example to open');
    assert.equal(types.dropped, 0, 'the SDK dropped nothing');
    assert.equal(stats.droppedQueueFull, 0, `SDK stats: ${JSON.stringify(stats)}`);
    assert.equal(stats.droppedExportFailed, 0, `SDK stats: ${JSON.stringify(stats)}`);

    // The traced ones are ordinary round trips, backend included; the counted sends went out
    // unsampled, so the backend recorded nothing for them.
    const trips = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}&limit=1000`, (b) =>
      b.roundtrips.length === chat.traced);
    for (const r of trips.roundtrips) {
      assert.equal(r.server_service, service);
      assert.equal(r.message_type, 'chat');
    }
    const backendSpans = await poll(`${tw.api}/api/traces?service=${service}&limit=1000`, () => true);
    assert.ok(backendSpans.traces.length <= chat.traced + 5,
      `the backend traced only the traced messages: ${backendSpans.traces.length} traces for ${chat.traced}`);

    // Rates per step carry the counted part too.
    const rates = await poll(`${tw.api}/api/ws/rates?${window_}&step=60s`, (b) => b.types.some((t) => t.message_type === 'chat'));
    const series = rates.types.find((t) => t.message_type === 'chat');
    assert.equal(series.count.reduce((a, b) => a + b, 0), MESSAGES);
    assert.equal(series.counted.reduce((a, b) => a + b, 0), chat.counted);
  });
}
