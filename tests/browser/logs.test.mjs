// Logs from the browser: the SDK's JavaScript `log()` and console capture in a real page in
// headless Chromium, against a real collector; what arrived is read from the collector's SQLite
// file, what the console showed from Chromium's console events.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { browser, collector, poll, staticServer, stopAll, storedLogs } from './support.mjs';

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

/**
 * A fresh page (a fresh session) with the SDK started on `config`; `console` lists every console
 * message Chromium reported, with the arguments the page passed.
 */
async function open(config = {}) {
  const context = await chrome.newContext();
  const page = await context.newPage();
  const uncaught = [];
  page.on('pageerror', (e) => uncaught.push(e));
  const console = [];
  page.on('console', (msg) => console.push(
    Promise.all(msg.args().map((a) => a.jsonValue())).then((args) => ({ type: msg.type(), text: msg.text(), args })),
  ));
  await page.goto(`${site}/logs.html`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  const sessionId = await page.evaluate((cfg) => {
    window.tw = window.Tracewire.start({ serviceName: 'logs-web', flushIntervalMs: 600000, ...cfg });
    return window.tw.sessionId();
  }, { endpoint: tw.otlp, ...config });
  return {
    page,
    sessionId,
    uncaught,
    console: () => Promise.all(console),
    close: () => context.close(),
  };
}

test('log() records each level with its OTLP severity, scrubbed, in the active span\'s trace', async () => {
  const p = await open();
  const { traceparent, typeError } = await p.page.evaluate(async () => {
    window.tw.log('info', 'outside any span', { 'app.step': 1 });
    const span = window.tw.startSpan('checkout');
    for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) {
      window.tw.log(level, `inside at ${level}`);
    }
    window.tw.log('warn', 'payment for ada@example.com refused', {
      password: 'hunter2',
      'http.header': 'Bearer abc.def.ghi',
      'cart.items': 3,
      ok: false,
    });
    const traceparent = span.traceparent;
    span.end();
    let typeError = null;
    try {
      window.tw.log('warning', 'not a level');
    } catch (e) {
      typeError = [e.constructor.name, e.message];
    }
    await window.tw.flush();
    return { traceparent, typeError };
  });
  assert.deepEqual(typeError, ['TypeError', 'Tracewire.log: level must be trace, debug, info, warn, error or fatal']);
  const [, traceId, spanId] = traceparent.split('-');

  const rows = await storedLogs(tw.db, p.sessionId, (r) => r.length >= 8);
  assert.equal(rows.length, 8, JSON.stringify(rows));
  const outside = rows.find((r) => r.body === 'outside any span');
  assert.deepEqual([outside.severity_number, outside.severity_text, outside.trace_id, outside.span_id, outside.event_name],
    [9, 'INFO', '', '', '']);
  assert.equal(outside.log_attributes['app.step'], '1');
  assert.equal(outside.log_attributes['session.id'], p.sessionId);

  const inside = rows.filter((r) => r.body.startsWith('inside at '));
  assert.deepEqual(inside.map((r) => [r.body.slice('inside at '.length), r.severity_number, r.severity_text]), [
    ['trace', 1, 'TRACE'], ['debug', 5, 'DEBUG'], ['info', 9, 'INFO'],
    ['warn', 13, 'WARN'], ['error', 17, 'ERROR'], ['fatal', 21, 'FATAL'],
  ]);
  for (const r of inside) assert.deepEqual([r.trace_id, r.span_id], [traceId, spanId]);

  // Scrubbed like every attribute the SDK sends: deny-listed keys, bearer tokens, e-mails (body too).
  const scrubbed = rows.find((r) => r.body.startsWith('payment'));
  assert.equal(scrubbed.body, 'payment for [REDACTED_EMAIL] refused');
  assert.equal(scrubbed.log_attributes.password, '[REDACTED]');
  assert.doesNotMatch(scrubbed.log_attributes['http.header'], /abc\.def\.ghi/);
  assert.equal(scrubbed.log_attributes['cart.items'], '3');
  assert.equal(scrubbed.log_attributes.ok, 'false');
  assert.equal(scrubbed.trace_id, traceId);

  // The span the logs point at is stored too: the logs are in a trace that exists.
  const trace = await poll(`${tw.api}/api/traces/${traceId}`, (t) => t.spans?.length === 1);
  assert.equal(trace.spans[0].span_id, spanId);
  assert.deepEqual(p.uncaught, []);
  await p.close();
});

test('captured console.error and console.warn become records; the console shows exactly what the page passed', async () => {
  const p = await open({ captureConsole: ['error', 'warn'] });
  const result = await p.page.evaluate(async () => {
    const seen = [];
    const returned = console.error('boom', 42, { order: 7, tags: ['a'] });
    console.warn('careful with %s', 'the cache');
    console.error(new TypeError('bad input from ada@example.com'));
    console.log('console.log is not captured');
    console.info('nor is console.info');
    const span = window.tw.startSpan('render');
    console.error.call(console, 'inside a span');
    const traceparent = span.traceparent;
    span.end();
    seen.push(returned === undefined);
    seen.push(console.error.toString().includes('[native code]'));
    await window.tw.shutdown();
    // Shutdown puts the browser's own methods back.
    seen.push(console.error.toString().includes('[native code]'), console.warn.toString().includes('[native code]'));
    console.error('after shutdown');
    return { seen, traceparent };
  });
  assert.deepEqual(result.seen, [true, false, true, true]);

  const shown = (await p.console()).filter((m) => m.type !== 'log' && m.type !== 'info');
  assert.deepEqual(shown.map((m) => [m.type, m.args]), [
    ['error', ['boom', 42, { order: 7, tags: ['a'] }]],
    ['warning', ['careful with %s', 'the cache']],
    ['error', [shown[2].args[0]]],
    ['error', ['inside a span']],
    ['error', ['after shutdown']],
  ]);
  // The page's own Error object, not a text made of it.
  assert.ok(shown[2].args[0] instanceof Error);
  assert.deepEqual([shown[2].args[0].name, shown[2].args[0].message], ['TypeError', 'bad input from ada@example.com']);
  const all = await p.console();
  assert.ok(all.some((m) => m.type === 'log' && m.text === 'console.log is not captured'));

  const rows = await storedLogs(tw.db, p.sessionId, (r) => r.length >= 4);
  assert.deepEqual(rows.map((r) => [r.body, r.severity_number, r.log_attributes['console.method']]), [
    ['boom 42 {"order":7,"tags":["a"]}', 17, 'error'],
    ['careful with %s the cache', 13, 'warn'],
    ['TypeError: bad input from [REDACTED_EMAIL]', 17, 'error'],
    ['inside a span', 17, 'error'],
  ]);
  const [, traceId, spanId] = result.traceparent.split('-');
  assert.deepEqual([rows[3].trace_id, rows[3].span_id], [traceId, spanId]);
  assert.deepEqual([rows[0].trace_id, rows[0].span_id], ['', '']);
  assert.deepEqual(p.uncaught, []);
  await p.close();
});

test('console capture never captures itself: the SDK\'s own warning is shown, not recorded', async () => {
  // A queue of two: the third record is dropped and the SDK warns on the console. Were that
  // warning captured, its record would be dropped as well and counted a second time.
  const p = await open({ captureConsole: ['warn', 'error'], maxQueueItems: 2 });
  const stats = await p.page.evaluate(async () => {
    window.tw.log('info', 'first');
    console.warn('second');
    window.tw.log('info', 'third, dropped');
    const full = window.tw.stats();
    await window.tw.flush();
    console.error('after the flush');
    await window.tw.flush();
    return [full.queued, full.droppedQueueFull, window.tw.stats().droppedQueueFull];
  });
  assert.deepEqual(stats, [2, 1, 1]);
  const shown = (await p.console()).map((m) => [m.type, m.text]);
  assert.deepEqual(shown, [
    ['warning', 'second'],
    ['warning', 'Tracewire: export queue full, dropping new telemetry (counted)'],
    ['error', 'after the flush'],
  ]);
  // The SDK's own report of the drop is a record (an event), its console warning is not.
  const rows = await storedLogs(tw.db, p.sessionId, (r) => r.length >= 4);
  assert.deepEqual(rows.map((r) => [r.body, r.event_name]), [
    ['first', ''],
    ['second', ''],
    ['Tracewire dropped 1 telemetry items: export queue full', 'tracewire.dropped'],
    ['after the flush', ''],
  ]);
  // A capture of the SDK's own warning would have run while the SDK's state was in use: a panic,
  // swallowed so as not to break the page, reported as a record without a session (its beacon
  // went out before the flush whose records arrived above).
  const panics = (await storedLogs(tw.db, '', () => true)).filter((r) => r.body.startsWith('panic'));
  assert.deepEqual(panics, []);
  assert.deepEqual(p.uncaught, []);
  await p.close();
});

test('console capture is off by default', async () => {
  const p = await open();
  const native = await p.page.evaluate(async () => {
    console.error('not captured by default');
    console.warn('nor this');
    window.tw.log('info', 'marker');
    await window.tw.flush();
    return ['error', 'warn', 'log'].every((m) => console[m].toString().includes('[native code]'));
  });
  assert.ok(native, 'console methods untouched');
  // The marker went in the same flush as any capture would have.
  const rows = await storedLogs(tw.db, p.sessionId, (r) => r.length >= 1);
  assert.deepEqual(rows.map((r) => r.body), ['marker']);
  assert.deepEqual((await p.console()).map((m) => m.text), ['not captured by default', 'nor this']);
  await p.close();
});
