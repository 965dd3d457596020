// Shared helpers of the browser tests: a real collector process on free ports, headless Debian
// Chromium through playwright-core, and OTLP senders (OTLP/JSON browser-like spans, and the real
// OpenTelemetry Python SDK through tests/python/otel_send.py).

import { spawn, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WWW = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WWW, '..');
export const ARTIFACTS = join(WWW, 'e2e-artifacts');
mkdirSync(ARTIFACTS, { recursive: true });

/** Where scripts/test-ui.sh puts build output: $CARGO_TARGET_DIR, else target/. */
export function targetDir() {
  return process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
}

/** The collector binary: $TRACEWIRE_COLLECTOR, else the debug build in $CARGO_TARGET_DIR or target/. */
export function collectorBinary() {
  if (process.env.TRACEWIRE_COLLECTOR) return process.env.TRACEWIRE_COLLECTOR;
  const target = process.env.CARGO_TARGET_DIR || join(ROOT, 'target');
  return join(target, 'debug', 'tracewire-collector');
}

/**
 * Starts a collector with a fresh SQLite file (or the one in `opts.dir`, kept on stop); resolves
 * once both listeners logged their address.
 */
export async function startCollector(name, opts = {}) {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), `tw-ui-${name}-`));
  const child = spawn(
    opts.binary ?? collectorBinary(),
    ['--otlp-listen', '127.0.0.1:0', '--otlp-grpc-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0', '--store', `sqlite:${dir}/tw.db`, ...(opts.args ?? [])],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' } },
  );
  let log = '';
  const addrs = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`collector did not start in 20 s:\n${log}`)), 20_000);
    child.on('exit', (code) => fail(new Error(`collector exited with ${code}:\n${log}`)));
    child.stderr.on('data', (chunk) => {
      log += chunk.toString().replace(/\x1b\[[0-9;]*m/g, '');
      const otlp = log.match(/OTLP ingest listening on (http:\/\/[0-9.:]+)/);
      const api = log.match(/query API listening on (http:\/\/[0-9.:]+)/);
      if (otlp && api) {
        clearTimeout(timer);
        ok({ otlp: otlp[1], api: api[1] });
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    ...addrs,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/** A page 1280 px wide (the narrowest the UI promises to serve well). */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: opts.colorScheme ?? 'light' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e.stack ?? e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.errors = errors;
  return page;
}

export async function screenshot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

export async function postJson(url, body, headers = {}) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function getJson(url) {
  const res = await fetch(url);
  return { status: res.status, body: res.status === 200 ? await res.json() : await res.text() };
}

const hex = (n, len) => n.toString(16).padStart(len, '0').slice(-len);
let counter = 1;
/** A fresh random-looking trace id (32 hex) and span ids (16 hex). */
export function traceId() {
  return hex(BigInt(Date.now()) * 1000003n + BigInt(counter++) * 7919n, 16) + hex(BigInt(Math.floor(Math.random() * 2 ** 48)), 16);
}
export function spanId() {
  return hex(BigInt(counter++) * 104729n + BigInt(Math.floor(Math.random() * 2 ** 40)), 16);
}

const str = (key, value) => ({ key, value: { stringValue: String(value) } });
const ns = (ms) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

export const BROWSER_RESOURCE = [
  str('service.name', 'web-app'),
  str('telemetry.sdk.language', 'webjs'),
  str('telemetry.sdk.name', 'tracewire-sdk'),
  str('user_agent.original', 'Mozilla/5.0 (e2e)'),
];
export const BACKEND_RESOURCE = [str('service.name', 'agent-backend'), str('telemetry.sdk.language', 'rust')];

/**
 * One WebSocket exchange as docs/semantic-conventions.md describes it: browser ws.send
 * (PRODUCER) → backend ws.receive (CONSUMER) with a db.query child → browser ws.receive of the
 * reply (CONSUMER, child of the backend span) → ws.process. The browser clock runs `skewMs` ahead.
 * Times are milliseconds on the true (server) clock.
 */
export function exchange({ t0, type = 'run_agent', skewMs = 40, uplinkMs = 5, serverMs = 30, downlinkMs = 6, sessionId = 'sess-e2e-1', error = false }) {
  const trace = traceId();
  const ids = { send: spanId(), recv: spanId(), db: spanId(), reply: spanId(), proc: spanId() };
  const b = (ms) => ns(ms + skewMs);
  const t1 = t0, t2 = t0 + uplinkMs, t3 = t2 + serverMs, t4 = t3 + downlinkMs;
  const common = [str('messaging.system', 'websocket'), str('ws.message.type', type), str('session.id', sessionId), str('user.id', 'u-17')];
  const browser = [
    { traceId: trace, spanId: ids.send, name: `ws.send ${type}`, kind: 4, startTimeUnixNano: b(t1), endTimeUnixNano: b(t4),
      attributes: [...common, str('messaging.operation.type', 'send'), str('url.full', 'wss://app.example/ws'), { key: 'ws.rtt_ms', value: { doubleValue: t4 - t1 } }] },
    { traceId: trace, spanId: ids.reply, parentSpanId: ids.recv, name: `ws.receive ${type}.reply`, kind: 5, startTimeUnixNano: b(t4), endTimeUnixNano: b(t4),
      attributes: [...common, str('messaging.operation.type', 'receive')] },
    { traceId: trace, spanId: ids.proc, parentSpanId: ids.reply, name: `ws.process ${type}.reply`, kind: 5, startTimeUnixNano: b(t4), endTimeUnixNano: b(t4 + 2),
      attributes: [...common, str('messaging.operation.type', 'process')] },
  ];
  const backend = [
    { traceId: trace, spanId: ids.recv, parentSpanId: ids.send, name: `ws.receive ${type}`, kind: 5, startTimeUnixNano: ns(t2), endTimeUnixNano: ns(t3),
      attributes: [str('messaging.system', 'websocket'), str('messaging.operation.type', 'receive'), str('ws.message.type', type)],
      status: error ? { code: 2, message: 'agent failed' } : {} },
    { traceId: trace, spanId: ids.db, parentSpanId: ids.recv, name: 'db.query SELECT agents', kind: 3, startTimeUnixNano: ns(t2 + 2), endTimeUnixNano: ns(t3 - 3),
      attributes: [str('db.system', 'sqlite')], events: [{ timeUnixNano: ns(t2 + 4), name: 'rows.read', attributes: [str('rows', '12')] }] },
  ];
  return { trace, ids, browser, backend };
}

/** Posts browser and backend spans as two OTLP/JSON requests, like the two real senders would. */
export async function sendExchanges(otlp, exchanges) {
  await postJson(`${otlp}/v1/traces`, {
    resourceSpans: [{ resource: { attributes: BROWSER_RESOURCE }, scopeSpans: [{ scope: { name: 'tracewire-sdk' }, spans: exchanges.flatMap((e) => e.browser) }] }],
  });
  await postJson(`${otlp}/v1/traces`, {
    resourceSpans: [{ resource: { attributes: BACKEND_RESOURCE }, scopeSpans: [{ scope: { name: 'tracewire-ws' }, spans: exchanges.flatMap((e) => e.backend) }] }],
  });
}

/**
 * Browser logs of one session as the SDK sends them: request-rate records of a polling route
 * (the hot-endpoint detector reads them), an uncaught error, and a traced fetch span.
 */
export async function sendBrowserActivity(otlp, { sessionId, nowMs, polls = 3 }) {
  const rate = Array.from({ length: polls }, (_, i) => ({
    timeUnixNano: ns(nowMs - 60_000 + i * 10_000), severityNumber: 9, eventName: 'http.client.request_rate',
    body: { stringValue: 'http.client.request_rate' },
    attributes: [str('http.route', '/api/agents/status'), { key: 'http.client.request.count', value: { intValue: '40' } },
      { key: 'tracewire.interval_ms', value: { intValue: '10000' } }, str('session.id', sessionId)],
  }));
  const error = {
    timeUnixNano: ns(nowMs - 30_000), severityNumber: 17, severityText: 'ERROR', eventName: 'exception',
    body: { stringValue: 'TypeError: agent is undefined' },
    attributes: [str('exception.type', 'TypeError'), str('exception.message', 'agent is undefined'), str('session.id', sessionId)],
  };
  await postJson(`${otlp}/v1/logs`, {
    resourceLogs: [{ resource: { attributes: BROWSER_RESOURCE }, scopeLogs: [{ logRecords: [...rate, error] }] }],
  });
  const trace = traceId();
  await postJson(`${otlp}/v1/traces`, {
    resourceSpans: [{ resource: { attributes: BROWSER_RESOURCE }, scopeSpans: [{ spans: [{
      traceId: trace, spanId: spanId(), name: 'GET', kind: 3, startTimeUnixNano: ns(nowMs - 45_000), endTimeUnixNano: ns(nowMs - 45_000 + 80),
      attributes: [str('http.request.method', 'GET'), str('url.full', 'https://app.example/api/agents'), { key: 'http.response.status_code', value: { intValue: '200' } }, str('session.id', sessionId)],
    }] }] }],
  });
  return { fetchTrace: trace };
}

/** Sends the 2-span trace of the real OpenTelemetry Python SDK; resolves to what it printed. */
export function sendWithPythonSdk(otlp) {
  return new Promise((ok, fail) => {
    execFile('python3', [join(ROOT, 'tests/python/otel_send.py'), otlp], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`otel_send.py failed: ${err.message}\n${stderr}`));
      else ok(JSON.parse(stdout));
    });
  });
}

/**
 * Sends log records through the real OpenTelemetry Python SDK's logging handler
 * (tests/python/otel_logs.py); resolves to what it printed (`{logs: [...]}`).
 */
export function sendLogsWithPythonSdk(otlp) {
  return new Promise((ok, fail) => {
    execFile('python3', [join(ROOT, 'tests/python/otel_logs.py'), otlp], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`otel_logs.py failed: ${err.message}\n${stderr}`));
      else ok(JSON.parse(stdout));
    });
  });
}

/** Posts OTLP/JSON log records of one resource. */
export async function postLogs(otlp, resource, logRecords) {
  await postJson(`${otlp}/v1/logs`, { resourceLogs: [{ resource: { attributes: resource }, scopeLogs: [{ logRecords }] }] });
}

/** Polls `fn` until it returns a truthy value or `ms` pass. */
export async function eventually(fn, ms = 10_000, what = 'condition') {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}
