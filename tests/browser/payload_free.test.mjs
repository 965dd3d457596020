// Payload-free correlation end to end (issue 19): a page whose SDK has `payloadFreeUrls` for the
// backend's socket sends binary protobuf-like frames and strict JSON text; the backend (the Rust
// example with tracewire-ws, and the Python one) gets them byte for byte, and the collector joins
// every exchange into a round trip by the per-connection message numbers, reply included.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { agentBackend, browser, collector, poll, pythonBackend, staticServer, stopAll } from './support.mjs';

const PAGE = fileURLToPath(new URL('./page', import.meta.url));

let site;
let tw;
let chrome;

before(async () => {
  site = await staticServer(PAGE);
  tw = await collector(site);
  chrome = await browser();
});

after(stopAll);

// Field 1 varint 150, field 2 bytes "coder": what a protobuf encoder writes; and every byte value.
const PROTOBUF = [0x08, 0x96, 0x01, 0x12, 0x05, 0x63, 0x6f, 0x64, 0x65, 0x72];
const ALL_BYTES = Array.from({ length: 256 }, (_, i) => 255 - i);
// Text a strict schema would reject with any member added (or reordered, or re-spaced).
const LIST = '{"type":"list_agents","id":1}';
const CHAT = '{"type":"chat", "agent_id":"coder", "text":"h\\u00e9llo", "id":2}';
const FRAMES = [{ binary: PROTOBUF }, { text: LIST }, { binary: ALL_BYTES }, { text: CHAT }];
const size = (frame) => (frame.binary ? frame.binary.length : Buffer.byteLength(frame.text));

for (const { name, start, service } of [
  { name: 'Rust', start: agentBackend, service: 'agent-backend' },
  { name: 'Python', start: pythonBackend, service: 'python-backend' },
]) {
  // Bounded: an ordinary connection never answers a binary frame, and the page would wait forever.
  test(`${name} backend: payload-free messages arrive unchanged and every exchange is a round trip`, { timeout: 60_000 }, async () => {
    const backend = await start(tw.otlp);
    const context = await chrome.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e));
    const pattern = `${backend.ws}*`;
    await page.goto(`${site}/index.html?otlp=${encodeURIComponent(tw.otlp)}&pf=${encodeURIComponent(pattern)}`);
    await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
    const { replies, url } = await page.evaluate(([u, f]) => window.exchangeFrames(u, f), [backend.ws, FRAMES]);
    const sessionId = await page.evaluate(async () => {
      await window.tw.flush();
      return window.tw.sessionId();
    });
    await context.close();

    assert.equal(url, backend.ws, 'socket.url is the URL the page opened');
    // Binary frames come back from the backend's echo byte for byte; JSON replies carry no context.
    assert.deepEqual(replies[0], { binary: PROTOBUF });
    assert.deepEqual(replies[2], { binary: ALL_BYTES });
    assert.equal(JSON.parse(replies[1].text).type, 'agents');
    assert.equal(JSON.parse(replies[3].text).type, 'chat_reply');
    for (const r of [replies[1], replies[3]]) assert.ok(!('trace_context' in JSON.parse(r.text)), r.text);

    const body = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}`, (b) =>
      b.roundtrips.length === FRAMES.length && b.roundtrips.every((r) => r.receive_span_id));
    const traceIds = new Set(body.roundtrips.map((r) => r.trace_id));
    assert.equal(traceIds.size, 1, 'one connection, one trace');
    const trace = await poll(`${tw.api}/api/traces/${[...traceIds][0]}`, (t) =>
      t.spans.filter((s) => s.source === 'backend' && s.name.startsWith('ws.receive')).length === FRAMES.length
      && t.spans.filter((s) => s.source === 'browser' && s.name.startsWith('ws.receive')).length === FRAMES.length);
    const byId = new Map(trace.spans.map((s) => [s.span_id, s]));
    const connect = trace.spans.find((s) => s.name === 'ws.connect');
    assert.ok(connect, 'the ws.connect span whose traceparent the handshake carried');

    const bySequence = body.roundtrips
      .map((r) => ({ r, send: byId.get(r.send_span_id) }))
      .sort((a, b) => Number(a.send.attributes['ws.message.sequence']) - Number(b.send.attributes['ws.message.sequence']));
    bySequence.forEach(({ r, send }, i) => {
      const frame = FRAMES[i];
      const server = byId.get(r.server_span_id);
      const reply = byId.get(r.receive_span_id);
      assert.equal(r.server_service, service);
      assert.equal(r.session_id, sessionId);
      assert.ok(r.total_ns > 0 && r.server_ns > 0, JSON.stringify(r));
      assert.equal(send.source, 'browser');
      assert.equal(send.parent_span_id, connect.span_id);
      assert.equal(send.attributes['ws.connection.span_id'], connect.span_id);
      assert.equal(send.attributes['ws.message.sequence'], String(i + 1));
      assert.equal(send.attributes['ws.context_injected'], 'false');
      assert.equal(send.attributes['ws.message.format'], frame.binary ? 'binary' : 'text');
      // The backend received exactly the bytes the page sent.
      assert.equal(server.source, 'backend');
      assert.match(server.name, /^ws\.receive/);
      assert.equal(server.parent_span_id, connect.span_id, "a child of the handshake's context");
      assert.equal(server.attributes['ws.connection.span_id'], connect.span_id);
      assert.equal(server.attributes['ws.message.sequence'], String(i + 1));
      assert.equal(Number(send.attributes['messaging.message.body.size']), size(frame));
      assert.equal(Number(server.attributes['messaging.message.body.size']), size(frame));
      // The reply is the page's receive of the backend's answer, numbered alike.
      assert.equal(reply.source, 'browser');
      assert.match(reply.name, /^ws\.receive/);
      assert.equal(reply.attributes['ws.connection.span_id'], connect.span_id);
      assert.equal(reply.attributes['ws.message.sequence'], String(i + 1));
      assert.equal(Number(reply.attributes['messaging.message.body.size']),
        replies[i].binary ? replies[i].binary.length : Buffer.byteLength(replies[i].text));
    });
    assert.deepEqual(bySequence.map(({ r }) => r.message_type ?? null),
      [null, 'list_agents', null, 'chat']);
  });
}
