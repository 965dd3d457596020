// Issue-level end-to-end test of the demo (issue 7): the Rust/WASM agent dashboard
// (examples/wasm-frontend, built on tracewire-sdk's Rust API) in headless Chromium, clicked
// through like a user would, against the Rust and the Python demo backend, each exporting to its
// own collector. Everything is checked through the collector's query API: one correlated trace
// per message, round trips, the flaky agent's error trace, and the poll storm of the simulated
// WebSocket-fallback bug at the top of the hot-endpoint report, where it fires the poll-storm
// alert rule (issue 18) to a real webhook receiver and resolves once the storm stops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  WASM_FRONTEND, agentBackend, browser, collector, poll, pythonBackend, staticServer, stopAll,
} from './support.mjs';

const SCREENSHOTS = fileURLToPath(new URL('./screenshots', import.meta.url));
const MS = 1_000_000;

/** A webhook receiver on loopback: each POSTed JSON body with the time it arrived. */
async function webhookReceiver() {
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ atMs: Date.now(), body: JSON.parse(body) });
      res.end();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => server.close());
  return { url: `http://127.0.0.1:${server.address().port}/hook`, received };
}

/** Waits (at most 20 s) for a webhook notification whose status is `status`. */
async function notified(hooks, status) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const hit = hooks.received.find((h) => h.body.status === status);
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no ${status} notification: ${JSON.stringify(hooks.received)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let site;
let chrome;

before(async () => {
  site = await staticServer(WASM_FRONTEND);
  chrome = await browser();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

after(stopAll);

const BACKENDS = [
  { name: 'Rust', start: agentBackend, service: 'agent-backend', tools: 'agent-tools' },
  { name: 'Python', start: pythonBackend, service: 'python-backend', tools: 'python-tools' },
];

for (const backend of BACKENDS) {
  test(`the demo page against the ${backend.name} backend: correlated traces, round trips, an error trace and the hot endpoint`, async () => {
    // Alerts: a webhook channel in the rules file; the poll-storm rule, which names the backend's
    // route, goes in through the API once the backend is up.
    const hooks = await webhookReceiver();
    const rules = join(mkdtempSync(join(tmpdir(), 'tw-rules-')), 'rules.toml');
    writeFileSync(rules, `[[channels]]\nname = "ops"\ntype = "webhook"\nurl = "${hooks.url}"\n`);
    const tw = await collector(site, ['--rules', rules, '--alert-interval', '1s']);
    const server = await backend.start(tw.otlp);
    const route = `GET ${server.http}/api/agents`;
    const put = await fetch(`${tw.api}/api/alerts/rules/poll%20storm`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        condition: { kind: 'hot_endpoint', route, per_session: true },
        window: '5s', op: '>', threshold: 5, for: '0s', severity: 'critical',
        summary: '{{route}} at {{value}}/s from session {{session_id}}', channels: ['ops'],
      }),
    });
    assert.equal(put.status, 204, await put.text());
    const context = await chrome.newContext();
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e));
    const query = new URLSearchParams({
      backend: server.http, otlp: tw.otlp, flush_ms: '300', rate_ms: '1000', poll_ms: '10',
    });
    await page.goto(`${site}/index.html?${query}`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'connected');
    const sessionId = await page.textContent('#session');
    assert.match(sessionId, /^[0-9a-f]{32}$/);

    // A user's clicks: list, run an agent (reply and four pushes), chat, run the flaky agent.
    const entry = (selector) => page.waitForSelector(`#log li${selector}`);
    await page.click('#list');
    await entry('.reply[data-type="agents"]');
    await page.selectOption('#agent', 'coder');
    await page.click('#run');
    await entry('.push[data-type="run_finished"]');
    await page.fill('#chat-text', 'hello from the demo');
    await page.click('#chat');
    await entry('.reply[data-type="chat_reply"]');
    await page.selectOption('#agent', 'flaky');
    await page.click('#run');
    await entry('.error[data-type="error"]');
    const log = await page.$$eval('#log li', (items) => items.map((li) => li.textContent));
    assert.ok(log.includes('← agents: Researcher (idle), Coder (idle), Slow thinker (idle), Flaky agent (degraded)'), log.join('\n'));
    assert.ok(log.includes('← coder: coder heard: hello from the demo'), log.join('\n'));
    assert.ok(log.includes('← error: database is locked'), log.join('\n'));
    assert.equal(log.filter((l) => /^← run \d+: step \d of 3$/.test(l)).length, 3, log.join('\n'));

    // The field bug: the bug switch on, the socket drops, and the page polls GET /api/agents.
    await page.check('#fallback');
    const stormStartMs = Date.now();
    await page.click('#disconnect');
    await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('disconnected'));
    await page.waitForFunction(() => {
      const m = document.getElementById('polls').textContent.match(/^polling, (\d+) requests/);
      return m && Number(m[1]) >= 100;
    }, null, { timeout: 20_000 });
    await page.screenshot({ path: `${SCREENSHOTS}/demo-${backend.name.toLowerCase()}.png`, fullPage: true });
    // Long enough for at least one request-rate report (every second here) to be exported.
    await page.waitForTimeout(1500);
    // Reconnecting ends the storm.
    await page.click('#connect');
    await page.waitForFunction(() => document.getElementById('status').textContent === 'connected');
    await page.waitForFunction(() => document.getElementById('polls').textContent.startsWith('idle'));
    const polls = Number((await page.textContent('#polls')).match(/(\d+) requests/)[1]);
    assert.deepEqual(pageErrors, []);

    // Round trips: one per message, continued by this backend, with plausible timings.
    const { roundtrips } = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}`, (b) =>
      b.roundtrips.length === 4 && b.roundtrips.every((r) => r.receive_span_id));
    assert.deepEqual(roundtrips.map((r) => r.message_type).sort(), ['chat', 'list_agents', 'run_agent', 'run_agent']);
    for (const r of roundtrips) {
      assert.equal(r.service, 'demo-web');
      assert.equal(r.server_service, backend.service);
      assert.ok(r.server_ns > 0 && r.total_ns > r.server_ns, JSON.stringify(r));
      assert.ok(r.total_ns < 5_000 * MS, `a local round trip takes well under 5 s: ${r.total_ns}`);
      assert.equal(r.total_ns - r.server_ns, r.uplink_ns + r.downlink_ns);
      assert.ok(r.uplink_ns >= 0 && r.downlink_ns >= 0, JSON.stringify(r));
      assert.ok(Math.abs(r.clock_offset_ns) < 50 * MS, `same machine, offset ${r.clock_offset_ns}`);
    }

    // The run of the coder agent: browser send → backend receive → database, tools service,
    // four pushes → the page's receipt of the reply and of each push.
    const run = roundtrips.find((r) => r.message_type === 'run_agent' && !r.error);
    const trace = await poll(`${tw.api}/api/traces/${run.trace_id}`, (t) =>
      t.spans.some((s) => s.service_name === backend.tools)
      && t.spans.filter((s) => s.kind === 'Producer' && s.source === 'backend').length === 4
      && t.spans.filter((s) => s.source === 'browser' && s.name.startsWith('ws.receive')).length === 5);
    const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
    const send = byId.get(run.send_span_id);
    const received = byId.get(run.server_span_id);
    assert.equal(send.name, 'ws.send run_agent');
    assert.equal(send.kind, 'Producer');
    assert.equal(send.source, 'browser');
    assert.equal(send.service_name, 'demo-web');
    assert.equal(received.name, 'ws.receive run_agent');
    assert.equal(received.kind, 'Consumer');
    assert.equal(received.source, 'backend');
    assert.equal(received.service_name, backend.service);
    assert.equal(received.parent_span_id, send.span_id);
    assert.equal(byId.get(run.receive_span_id).parent_span_id, received.span_id);
    assert.ok(trace.spans.some((s) => s.name === 'SELECT agents' && s.parent_span_id === received.span_id));
    const toolsCall = trace.spans.find((s) => s.kind === 'Client' && s.name === 'GET /tools/{agent}');
    assert.equal(toolsCall.parent_span_id, received.span_id);
    const toolsServer = trace.spans.find((s) => s.service_name === backend.tools);
    assert.equal(toolsServer.parent_span_id, toolsCall.span_id, 'traceparent crossed the HTTP hop');
    for (const push of trace.spans.filter((s) => s.kind === 'Producer' && s.source === 'backend')) {
      assert.equal(push.parent_span_id, received.span_id);
      assert.ok(trace.spans.some((s) => s.source === 'browser' && s.parent_span_id === push.span_id),
        `the page's receipt of ${push.name} joins the trace`);
    }

    // The flaky agent: an error trace, found by the error filter.
    const failed = roundtrips.find((r) => r.message_type === 'run_agent' && r.error);
    assert.ok(failed, JSON.stringify(roundtrips));
    const errorTrace = await poll(`${tw.api}/api/traces/${failed.trace_id}`, (t) =>
      t.spans.some((s) => s.name === 'SELECT agents' && s.status_code === 'Error'));
    const failedReceive = errorTrace.spans.find((s) => s.span_id === failed.server_span_id);
    assert.equal(failedReceive.status_code, 'Error');
    assert.equal(failedReceive.status_message, 'database is locked');
    assert.equal(failedReceive.parent_span_id, failed.send_span_id);
    const { traces: errorTraces } = await poll(`${tw.api}/api/traces?status=error&service=${backend.service}`,
      (b) => b.traces.some((t) => t.trace_id === failed.trace_id));
    assert.ok(errorTraces.find((t) => t.trace_id === failed.trace_id).has_error);

    // The poll storm: GET /api/agents tops the hot-endpoint report, for this session too.
    const hot = await poll(`${tw.api}/api/endpoints/hot?window=5m`, (b) =>
      b.routes.length > 0 && b.routes[0].route === route && b.routes[0].requests >= 100);
    assert.ok(hot.routes[0].requests <= polls + 1, `${hot.routes[0].requests} reported, ${polls} polled`);
    assert.equal(hot.sessions[0].session_id, sessionId);
    assert.equal(hot.sessions[0].route, route);

    // It fired the poll-storm rule for this session and route; it resolved when the page
    // reconnected.
    const firing = await notified(hooks, 'firing');
    const resolved = await notified(hooks, 'resolved');
    console.log(`${backend.name}: poll storm alert ("${firing.body.alerts[0].annotations.summary}") fired ${firing.atMs - stormStartMs} ms after the storm began ` +
      `(interval 1 s, for 0 s, request rates reported every 1 s), resolved ${resolved.atMs - firing.atMs} ms later`);
    assert.ok(firing.atMs <= resolved.atMs, 'resolved follows firing');
    const alert = firing.body.alerts[0];
    assert.equal(alert.labels.alertname, 'poll storm');
    assert.equal(alert.labels.route, route);
    assert.equal(alert.labels.session_id, sessionId);
    assert.match(alert.annotations.summary, new RegExp(`at \\d+(\\.\\d+)?/s from session ${sessionId}$`));
    assert.ok(Number(alert.annotations.summary.match(/at ([0-9.]+)\/s/)[1]) > 5, alert.annotations.summary);
    assert.equal(resolved.body.alerts[0].fingerprint, alert.fingerprint);

    // Each traced poll continues the page's fetch span on the backend (traceparent on fetch).
    // (The SDK records spans for the first requests per route and interval, and counts the rest.)
    const { traces: httpTraces } = await poll(
      `${tw.api}/api/traces?service=${backend.service}&name=${encodeURIComponent('GET /api/agents')}&limit=100`,
      (b) => b.traces.some((t) => t.span_count >= 3));
    const traced = httpTraces.find((t) => t.span_count >= 3);
    const pollTrace = await poll(`${tw.api}/api/traces/${traced.trace_id}`, (t) => t.spans.length >= 3);
    const handler = pollTrace.spans.find((s) => s.name === 'GET /api/agents');
    const fetchSpan = pollTrace.spans.find((s) => s.span_id === handler.parent_span_id);
    assert.equal(fetchSpan.source, 'browser');
    assert.equal(fetchSpan.kind, 'Client');
    assert.equal(fetchSpan.name, 'GET');

    await context.close();
  });
}
