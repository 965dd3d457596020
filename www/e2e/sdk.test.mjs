// The whole path with real parts: a page loads the Tracewire browser SDK (sdk-wasm, built by
// wasm-pack), talks over WebSocket to the agent-backend example (tracewire-ws + the OpenTelemetry
// Rust SDK), both export to a real collector, and the UI shows the joined trace.
//
// scripts/test-ui.sh builds the package into $CARGO_TARGET_DIR/tracewire-sdk-pkg and the
// backend into $CARGO_TARGET_DIR/debug/agent-backend ($TRACEWIRE_SDK_PKG and
// $TRACEWIRE_AGENT_BACKEND override them).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { after, before, test } from 'node:test';
import { eventually, getJson, launchBrowser, newPage, screenshot, startCollector, targetDir } from './harness.mjs';

const PKG = process.env.TRACEWIRE_SDK_PKG ?? join(targetDir(), 'tracewire-sdk-pkg');
const BACKEND = process.env.TRACEWIRE_AGENT_BACKEND ?? join(targetDir(), 'debug', 'agent-backend');
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

let site;
let collector;
let backend;
let browser;
let wsUrl;

/** The demo page: starts the SDK, patches WebSocket, sends two messages and waits for replies. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>demo</title><body><script type="module">
import init, { Tracewire } from '/pkg/tracewire_sdk.js';
const q = new URLSearchParams(location.search);
await init();
const tw = Tracewire.start({ endpoint: q.get('otlp'), serviceName: 'agent-dashboard', flushIntervalMs: 200 });
tw.instrumentWebSockets();
tw.setUser('u-demo');
const ws = new WebSocket(q.get('ws'));
await new Promise((r) => (ws.onopen = r));
const reply = (type) => new Promise((r) => ws.addEventListener('message', function on(e) {
  if (JSON.parse(e.data).type === type) { ws.removeEventListener('message', on); r(); }
}));
ws.send(JSON.stringify({ type: 'list_agents' }));
await reply('agents');
ws.send(JSON.stringify({ type: 'chat', agent_id: 'coder', text: 'hi' }));
await reply('chat_reply');
await tw.flush();
document.title = 'done';
</script>`;

/**
 * A page whose code throws while a span it started is open: the SDK reports the uncaught error
 * as its `exception` log record, in that span's trace, and records a named event.
 */
const ERROR_PAGE = `<!doctype html><meta charset="utf-8"><title>errors</title><body><script type="module">
import init, { Tracewire } from '/pkg/tracewire_sdk.js';
const q = new URLSearchParams(location.search);
await init();
const tw = Tracewire.start({ endpoint: q.get('otlp'), serviceName: 'agent-dashboard', flushIntervalMs: 200 });
window.sid = tw.sessionId();
tw.event('agents.rendered', { 'agents.count': 3 });
const span = tw.startSpan('render agent list');
setTimeout(() => { throw new TypeError('agent list is undefined'); });
await new Promise((r) => setTimeout(r, 100));
span.end();
await tw.flush();
document.title = 'done';
</script>`;

before(async () => {
  site = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    if (path === '/errors') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(ERROR_PAGE);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = normalize(path.replace(/^\/pkg\//, '')).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = readFileSync(join(PKG, file));
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => site.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${site.address().port}`;
  collector = await startCollector('sdk', { args: ['--cors-origin', origin] });
  backend = spawn(BACKEND, ['--listen', '127.0.0.1:0', '--otlp-endpoint', collector.otlp, '--clock-offset-ms', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  wsUrl = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('agent-backend did not start')), 20_000);
    let out = '';
    backend.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/WebSocket (ws:\/\/[0-9.:]+\/ws)/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    backend.on('exit', (code) => fail(new Error(`agent-backend exited with ${code}`)));
  });
  backend.removeAllListeners('exit');
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (backend && backend.exitCode === null) {
    const exited = new Promise((r) => backend.once('exit', r));
    backend.kill('SIGTERM');
    await exited;
  }
  await collector?.stop();
  site?.close();
});

test('a page with the real SDK and the agent-backend example: the UI finds the trace and nests browser and backend spans', async () => {
  const demo = await newPage(browser);
  const origin = `http://127.0.0.1:${site.address().port}`;
  await demo.goto(`${origin}/?otlp=${encodeURIComponent(collector.otlp)}&ws=${encodeURIComponent(wsUrl)}`);
  await demo.waitForFunction(() => document.title === 'done', null, { timeout: 20_000 });
  assert.deepEqual(demo.errors, []);

  // The backend exports on its own schedule: wait until the collector joined both sides.
  const summary = await eventually(async () => {
    const { body } = await getJson(`${collector.api}/api/traces?name=${encodeURIComponent('ws.send chat')}`);
    const t = body.traces?.[0];
    if (!t) return null;
    const { body: trace } = await getJson(`${collector.api}/api/traces/${t.trace_id}`);
    const sources = new Set(trace.spans.map((s) => s.source));
    return sources.has('browser') && sources.has('backend') && trace.spans.some((s) => s.name.startsWith('ws.receive chat')) ? t : null;
  }, 20_000, 'the chat trace with browser and backend spans');

  const page = await newPage(browser);
  await page.goto(`${collector.api}/?name=${encodeURIComponent('ws.send chat')}`);
  const row = page.locator('.trace-row', { hasText: 'ws.send chat' }).first();
  await row.waitFor();
  assert.match(await row.innerText(), /agent-dashboard/);
  await screenshot(page, 'sdk-search');
  await row.click();
  await page.waitForURL(new RegExp(`/trace/${summary.trace_id}`));
  await page.locator('.wf-row').first().waitFor();
  const rows = await page.$$eval('.wf-row', (els) =>
    els.map((e) => ({ id: e.dataset.spanId, depth: Number(e.dataset.depth), source: e.dataset.source, name: e.querySelector('.ellipsis').textContent })),
  );
  const { body: trace } = await getJson(`${collector.api}/api/traces/${summary.trace_id}`);
  const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
  // The root is the browser's send; the backend's receive is its child; every row sits one level
  // below its parent and after it.
  assert.equal(rows[0].name, 'ws.send chat');
  assert.equal(rows[0].source, 'browser');
  const recv = rows.find((r) => r.name === 'ws.receive chat' && r.source === 'backend');
  assert.ok(recv, `backend receive in ${JSON.stringify(rows)}`);
  assert.equal(recv.depth, 1);
  const reply = rows.find((r) => r.source === 'browser' && r.name.startsWith('ws.receive chat_reply'));
  assert.ok(reply, `browser receive of the reply in ${JSON.stringify(rows)}`);
  assert.equal(byId.get(byId.get(reply.id).parent_span_id).service_name, 'agent-backend');
  rows.forEach((r, i) => {
    const parent = byId.get(r.id).parent_span_id;
    if (!parent) return;
    const p = rows.findIndex((x) => x.id === parent);
    assert.ok(p >= 0 && p < i && rows[p].depth === r.depth - 1, `row ${r.name} under its parent`);
  });
  // Uplink drawn before the backend span, downlink before the reply.
  assert.equal(await page.locator(`.wf-row[data-span-id="${recv.id}"] .gap.uplink`).count(), 1);
  assert.equal(await page.locator(`.wf-row[data-span-id="${reply.id}"] .gap.downlink`).count(), 1);
  await screenshot(page, 'sdk-trace');
  assert.deepEqual(page.errors, []);
});

test('the real SDK\'s exception records and events are found by text, severity, service, trace and session, and on the Logs page', async () => {
  const demo = await newPage(browser);
  const origin = `http://127.0.0.1:${site.address().port}`;
  await demo.goto(`${origin}/errors?otlp=${encodeURIComponent(collector.otlp)}`);
  await demo.waitForFunction(() => document.title === 'done', null, { timeout: 20_000 });
  // The page's own uncaught error, which the SDK reported and left to the page.
  assert.equal(demo.errors.length, 1, demo.errors.join('\n'));
  assert.match(demo.errors[0], /TypeError: agent list is undefined/);
  const sid = await demo.evaluate(() => window.sid);
  const logs = async (query) => (await getJson(`${collector.api}/api/logs?${query}`)).body.logs;
  const [record] = await eventually(async () => {
    const found = await logs(`q=TypeError+undefined&session_id=${encodeURIComponent(sid)}`);
    return found?.length ? found : null;
  }, 20_000, 'the exception record');
  assert.equal(record.service_name, 'agent-dashboard');
  assert.equal(record.event_name, 'exception');
  assert.equal(record.severity_number, 17);
  assert.equal(record.attributes['exception.type'], 'TypeError');
  assert.match(record.trace_id, /^[0-9a-f]{32}$/, 'in the trace of the open span');
  const trace = await eventually(async () => {
    const { body } = await getJson(`${collector.api}/api/traces?name=${encodeURIComponent('render agent list')}`);
    return body.traces?.[0]?.trace_id;
  }, 20_000, 'the span');
  assert.equal(record.trace_id, trace);
  const byTrace = await logs(`trace_id=${trace}`);
  assert.deepEqual(byTrace.map((l) => l.body), ['TypeError: agent list is undefined']);
  const errors = await logs('severity=error&service=agent-dashboard');
  assert.ok(errors.some((l) => l.body === record.body), JSON.stringify(errors));
  const events = await logs(`q=agents.rendered&session_id=${encodeURIComponent(sid)}`);
  assert.equal(events.length, 1, JSON.stringify(events));

  const page = await newPage(browser);
  await page.goto(`${collector.api}/logs?q=TypeError&session_id=${encodeURIComponent(sid)}`);
  const row = page.locator('.log-row', { hasText: 'TypeError: agent list is undefined' });
  await row.waitFor();
  await row.locator('.log-summary').click();
  await row.getByRole('link', { name: /Open trace/ }).click();
  await page.waitForURL(new RegExp(`/trace/${trace}`));
  await page.locator('.wf-row').first().waitFor();
  await screenshot(page, 'sdk-logs-trace');
  assert.deepEqual(page.errors, []);
});
