// Issue-level end-to-end test of correlation: a real page in headless Chromium runs the SDK
// (its own code only opens a WebSocket), the Rust demo backend continues each message's trace
// with tracewire-ws and exports OTLP, and the collector joins both sides.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { agentBackend, browser, collector, poll, staticServer, stopAll } from './support.mjs';

const PAGE = fileURLToPath(new URL('./page', import.meta.url));
const MS = 1_000_000;

let site;
let tw;
let chrome;

before(async () => {
  site = await staticServer(PAGE);
  tw = await collector(site);
  chrome = await browser();
});

after(stopAll);

/** Opens the page in a fresh browser context (a fresh session) and runs `messages`. */
async function session(backend, messages, waitForType) {
  const context = await chrome.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${site}/index.html?otlp=${encodeURIComponent(tw.otlp)}`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const replies = await page.evaluate(
    ([url, list, waitFor]) => window.exchange(url, list, waitFor),
    [backend.ws, messages, waitForType ?? null],
  );
  const sessionId = await page.evaluate(async () => {
    await window.tw.flush();
    return window.tw.sessionId();
  });
  await context.close();
  return { replies, sessionId };
}

const ns = (value) => BigInt(value);

test('browser messages and backend spans form one trace and one round trip each', async () => {
  const backend = await agentBackend(tw.otlp);
  const messages = [
    { type: 'list_agents', id: 1 },
    { type: 'chat', agent_id: 'coder', text: 'hello', id: 2 },
    { type: 'run_agent', agent_id: 'researcher', id: 3 },
  ];
  const { replies, sessionId } = await session(backend, messages, 'run_finished');
  assert.deepEqual(replies.slice(0, 3).map((r) => r.type), ['agents', 'chat_reply', 'run_started']);
  for (const reply of replies) assert.match(reply.trace_context.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);

  const body = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}`, (b) =>
    b.roundtrips.length === 3 && b.roundtrips.every((r) => r.receive_span_id));
  const types = body.roundtrips.map((r) => r.message_type).sort();
  assert.deepEqual(types, ['chat', 'list_agents', 'run_agent']);
  for (const r of body.roundtrips) {
    assert.equal(r.service, 'e2e-web');
    assert.equal(r.server_service, 'agent-backend');
    assert.equal(r.session_id, sessionId);
    assert.ok(r.total_ns > 0 && r.server_ns > 0, JSON.stringify(r));
    assert.equal(r.total_ns - r.server_ns, r.uplink_ns + r.downlink_ns);
    assert.ok(Math.abs(r.clock_offset_ns) < 5 * MS, `same machine, offset ${r.clock_offset_ns}`);
  }

  // The run_agent trace: send → backend receive → reply receive → processing, plus backend work.
  const run = body.roundtrips.find((r) => r.message_type === 'run_agent');
  // Four pushes (three progress, one finished), each received by the page.
  const trace = await poll(`${tw.api}/api/traces/${run.trace_id}`, (t) =>
    t.spans.some((s) => s.service_name === 'agent-tools')
    && t.spans.filter((s) => s.kind === 'Producer' && s.source === 'backend').length === 4
    && t.spans.filter((s) => s.source === 'browser' && s.name.startsWith('ws.receive')).length === 5);
  const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
  const send = byId.get(run.send_span_id);
  const server = byId.get(run.server_span_id);
  const reply = byId.get(run.receive_span_id);
  assert.equal(send.name, 'ws.send run_agent');
  assert.equal(send.kind, 'Producer');
  assert.equal(send.source, 'browser');
  assert.equal(server.name, 'ws.receive run_agent');
  assert.equal(server.kind, 'Consumer');
  assert.equal(server.source, 'backend');
  assert.equal(server.parent_span_id, send.span_id);
  assert.equal(reply.parent_span_id, server.span_id);
  assert.equal(reply.source, 'browser');
  const processing = trace.spans.find((s) => s.parent_span_id === reply.span_id);
  assert.match(processing.name, /^ws\.process/);
  assert.ok(trace.spans.some((s) => s.name === 'SELECT agents' && s.parent_span_id === server.span_id));
  // Progress pushes are backend PRODUCER spans; the page's receipt of each joins the trace.
  const pushes = trace.spans.filter((s) => s.kind === 'Producer' && s.source === 'backend');
  for (const push of pushes) {
    assert.equal(push.parent_span_id, server.span_id);
    assert.ok(trace.spans.some((s) => s.source === 'browser' && s.parent_span_id === push.span_id),
      `the page's receipt of push ${push.name} joins the trace`);
  }
});

test('a backend clock 2 s ahead is estimated within 5 ms and corrected spans nest', async () => {
  const backend = await agentBackend(tw.otlp, 2000);
  const messages = Array.from({ length: 12 }, (_, i) => ({ type: 'chat', agent_id: 'coder', text: `m${i}`, id: i + 1 }));
  const { sessionId } = await session(backend, messages);
  const body = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}`, (b) =>
    b.roundtrips.length === 12 && b.roundtrips.every((r) => r.receive_span_id));
  for (const r of body.roundtrips) {
    assert.ok(Math.abs(r.clock_offset_ns - 2000 * MS) <= 5 * MS, `offset ${r.clock_offset_ns}`);
    assert.ok(r.uplink_ns >= 0 && r.downlink_ns >= 0 && r.uplink_ns < 1000 * MS, JSON.stringify(r));
  }
  const sessionView = await poll(`${tw.api}/api/sessions/${sessionId}`, (s) => s.clock_offset_ns !== null);
  assert.ok(Math.abs(sessionView.clock_offset_ns - 2000 * MS) <= 5 * MS);

  for (const r of body.roundtrips) {
    const trace = await poll(`${tw.api}/api/traces/${r.trace_id}`, (t) => t.spans.length >= 4);
    const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
    const send = byId.get(r.send_span_id);
    const server = byId.get(r.server_span_id);
    const reply = byId.get(r.receive_span_id);
    // Raw times are 2 s apart in the wrong direction; corrected ones nest.
    assert.ok(ns(send.start_time_unix_nano) + ns(1900 * MS) < ns(server.start_time_unix_nano), 'raw times keep the skew');
    assert.ok(ns(send.corrected_start_time_unix_nano) <= ns(server.corrected_start_time_unix_nano), 'send before its backend child');
    assert.ok(ns(reply.corrected_start_time_unix_nano) >= ns(server.corrected_start_time_unix_nano), 'reply after the backend span starts');
    assert.ok(ns(reply.corrected_start_time_unix_nano) - ns(server.corrected_end_time_unix_nano) < ns(50 * MS), 'reply right after the backend answered');
    assert.equal(server.clock_offset_ns, 0);
  }
});

test('with 0 to 40 ms of random delay each way, the true offset is inside the stated uncertainty', async () => {
  // The backend's clock is exactly 2 s ahead; its network delays lie outside its spans.
  const backend = await agentBackend(tw.otlp, 2000, 40);
  const count = 60;
  const messages = Array.from({ length: count }, (_, i) => ({ type: 'chat', agent_id: 'coder', text: `m${i}`, id: i + 1 }));
  const { sessionId } = await session(backend, messages);
  const body = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}&limit=1000`, (b) =>
    b.roundtrips.length === count && b.roundtrips.every((r) => r.receive_span_id));
  const s = await poll(`${tw.api}/api/sessions/${sessionId}`, (v) => v.clock_offset_uncertainty_ns !== null);
  const error = Math.abs(s.clock_offset_ns - 2000 * MS);
  const bestDelay = Math.min(...body.roundtrips.map((r) => r.total_ns - r.server_ns));
  console.log(`offset error ${(error / MS).toFixed(3)} ms, stated ± ${(s.clock_offset_uncertainty_ns / MS).toFixed(3)} ms, ` +
    `best exchange's delay ${(bestDelay / MS).toFixed(3)} ms, ${s.clock_offset_samples} of ${count} exchanges agree`);
  assert.ok(error <= s.clock_offset_uncertainty_ns, `the truth is ${error} ns off, outside ± ${s.clock_offset_uncertainty_ns}`);
  // Never wider than the best exchange allows: half its delay, plus the 0.1 ms browser clock resolution.
  assert.ok(s.clock_offset_uncertainty_ns <= bestDelay / 2 + 0.1 * MS + 1, `± ${s.clock_offset_uncertainty_ns} vs best delay ${bestDelay}`);
  // The trace answer carries it on the browser spans.
  const r = body.roundtrips[0];
  const trace = await poll(`${tw.api}/api/traces/${r.trace_id}`, (t) => t.spans.length >= 4);
  for (const span of trace.spans) {
    assert.equal(span.clock_offset_uncertainty_ns, span.source === 'browser' ? s.clock_offset_uncertainty_ns : null, span.name);
  }
});
