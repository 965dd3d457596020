// The React example (examples/react-app), built against the packed package, in headless Chromium
// with the agent-backend and a collector: messages through useTracedWebSocket, a render error
// caught by TracewireErrorBoundary, a log from useTracewire().log and a React Router route change
// must all reach the collector.
// scripts/test-js.sh packs the package and installs the tarball into the example first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import webpack from 'webpack';
import { agentBackend, browser, collector, poll, stopAll, storedLogs } from '../../tests/browser/support.mjs';

const EXAMPLE = fileURLToPath(new URL('../../examples/react-app', import.meta.url));

let site;
let server;
let tw;
let backend;
let chrome;

before(async () => {
  const build = spawnSync('npm', ['run', 'build'], { cwd: EXAMPLE, encoding: 'utf8' });
  assert.equal(build.status, 0, `the example did not build:\n${build.stdout}\n${build.stderr}`);
  await bundleWithWebpack(`${EXAMPLE}/dist/webpack`);
  ({ server, origin: site } = await appServer(`${EXAMPLE}/dist`));
  tw = await collector(site);
  backend = await agentBackend(tw.otlp);
  chrome = await browser();
});

after(async () => {
  await stopAll();
  await new Promise((resolve) => server?.close(resolve));
});

/**
 * Bundles test/webpack/entry.js with webpack 5's defaults (no loaders, no plugins) into `out`,
 * taking `tracewire` from the example's node_modules, where the packed tarball is installed.
 */
async function bundleWithWebpack(out) {
  const stats = await new Promise((resolve, reject) => {
    webpack({
      mode: 'production',
      context: fileURLToPath(new URL('./webpack', import.meta.url)),
      entry: './entry.js',
      output: { path: out, filename: 'main.js', clean: true },
      resolve: { modules: [`${EXAMPLE}/node_modules`, 'node_modules'] },
      performance: { hints: false },
    }, (error, result) => (error ? reject(error) : resolve(result)));
  });
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'index.html'), '<!doctype html><body><script src="main.js"></script></body>');
}

/**
 * Serves a single-page app: files that exist, and index.html for every other path, so that a
 * React Router route loads the app (support.mjs's staticServer serves files only).
 */
async function appServer(root) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    for (const file of [path, '/index.html']) {
      try {
        const body = await readFile(join(root, file === '/' ? 'index.html' : file));
        res.writeHead(200, { 'content-type': types[extname(file === '/' ? 'index.html' : file)] ?? 'application/octet-stream' });
        return res.end(body);
      } catch {
        // Not a file: the app's index.html answers.
      }
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

test('the React example traces messages, render errors and route changes into the collector', async () => {
  const context = await chrome.newContext();
  const page = await context.newPage();
  const uncaught = [];
  page.on('pageerror', (e) => uncaught.push(e));
  await page.goto(`${site}/?collector=${encodeURIComponent(tw.otlp)}&ws=${encodeURIComponent(backend.ws)}`);

  // The wasm loaded and started, and the hook's socket opened.
  await page.getByTestId('telemetry').filter({ hasText: 'ready' }).waitFor();
  await page.getByTestId('ready-state').filter({ hasText: 'open' }).waitFor();
  const sessionId = await page.getByTestId('session').textContent();
  assert.match(sessionId, /^[0-9a-f-]{16,}$/);

  // Two request/reply exchanges through useTracedWebSocket.
  await page.getByRole('button', { name: 'List agents' }).click();
  await page.locator('[data-testid=replies] li[data-type=agents]').waitFor();
  await page.getByRole('button', { name: 'Say hello' }).click();
  await page.locator('[data-testid=replies] li[data-type=chat_reply]').waitFor();
  assert.deepEqual(await page.locator('[data-testid=replies] li').allTextContents(), ['agents #1', 'chat_reply #2']);

  // A render error: the boundary shows its fallback and reports the error.
  await page.getByRole('button', { name: 'Break the widget' }).click();
  await page.getByTestId('crashed').filter({ hasText: 'widget failed to render' }).waitFor();

  // A route change through React Router; the Chat page unmounts and its socket closes.
  await page.getByRole('link', { name: 'About agents' }).click();
  await page.getByRole('heading', { name: 'About agents' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/agents');

  // The traced messages: one round trip per message, joined with the backend's spans.
  const trips = await poll(`${tw.api}/api/ws/roundtrips?session_id=${sessionId}`, (b) =>
    b.roundtrips.length === 2 && b.roundtrips.every((r) => r.receive_span_id));
  assert.deepEqual(trips.roundtrips.map((r) => r.message_type).sort(), ['chat', 'list_agents']);
  for (const r of trips.roundtrips) {
    assert.equal(r.service, 'react-app');
    assert.equal(r.server_service, 'agent-backend');
    assert.equal(r.url, backend.ws);
    assert.ok(r.total_ns > 0, `round trip without total: ${JSON.stringify(r)}`);
  }

  // The session's time line has the messages, the error report and both route views.
  const isRouteChange = (e) => e.kind === 'log' && e.name === 'route.change';
  const isRenderError = (e) => e.kind === 'error' && e.attributes['exception.source'] === 'react.error_boundary';
  const timeline = await poll(`${tw.api}/api/sessions/${sessionId}`, (b) =>
    b.events.some(isRenderError) && b.events.filter(isRouteChange).length >= 2);
  const error = timeline.events.find(isRenderError);
  assert.equal(error.attributes['exception.type'], 'Error');
  assert.equal(error.attributes['exception.message'], 'widget failed to render');
  assert.equal(error.attributes['app.region'], 'widget');
  // Production React minifies component names; the stack is there all the same.
  assert.match(error.attributes['react.component_stack'], /^\s+at \S+ \(/);
  const routes = timeline.events.filter(isRouteChange).map((e) => e.attributes);
  assert.deepEqual(routes.map((a) => a['url.path']), ['/', '/agents']);
  assert.equal(routes[1]['route.previous_path'], '/');
  assert.ok(Number(routes[1]['route.previous_duration_ms']) > 0);
  const messages = timeline.events.filter((e) => e.kind === 'message').map((e) => e.name);
  for (const name of ['ws.send list_agents', 'ws.send chat', 'ws.receive agents', 'ws.receive chat_reply']) {
    assert.ok(messages.includes(name), `${name} missing from ${JSON.stringify(messages)}`);
  }
  // The Chat component's useTracewire()?.log(...) call: an INFO record with its attribute.
  const logs = await storedLogs(tw.db, sessionId, (rows) => rows.some((r) => r.body === 'hello sent to the coder agent'));
  const hello = logs.find((r) => r.body === 'hello sent to the coder agent');
  assert.deepEqual([hello.severity_number, hello.severity_text, hello.event_name], [9, 'INFO', '']);
  assert.equal(hello.log_attributes['ui.action'], 'say_hello');

  // Unmounting the Chat page closed its socket (the backend drops the connection without a
  // close frame, hence no clean code), and the hook did not reconnect after the unmount.
  const closed = await poll(`${tw.api}/api/sessions/${sessionId}`, (b) =>
    b.events.some((e) => e.kind === 'connection' && e.name === 'ws.close'));
  const close = closed.events.find((e) => e.name === 'ws.close');
  assert.equal(close.attributes['ws.messages.sent'], '2');
  assert.equal(close.attributes['ws.messages.received'], '2');
  await new Promise((resolve) => setTimeout(resolve, 1500)); // > reconnect delay + flush interval
  await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  const later = await poll(`${tw.api}/api/sessions/${sessionId}`, () => true);
  assert.equal(later.events.filter((e) => e.name === 'ws.connect').length, 1);

  assert.deepEqual(uncaught, []);
  await context.close();
});

test('a webpack 5 bundle loads the wasm without loaders, and init returns one client', async () => {
  const context = await chrome.newContext();
  const page = await context.newPage();
  await page.goto(`${site}/webpack/index.html?collector=${encodeURIComponent(tw.otlp)}`);
  await page.waitForFunction(() => document.body.dataset.status !== undefined);
  assert.equal(await page.evaluate(() => document.body.dataset.status), 'ready');
  // The default build has no XHR tracing: asking for it says how to build it, and starts nothing.
  assert.match(
    await page.evaluate(() => document.body.dataset.xhr),
    /instrumentXhr needs the SDK's `xhr` cargo feature \(TRACEWIRE_SDK_FEATURES=xhr\)/,
  );
  const found = await poll(`${tw.api}/api/traces?service=webpack-app&name=webpack.loaded`, (b) => b.traces.length === 1);
  const trace = await poll(`${tw.api}/api/traces/${found.traces[0].trace_id}`, () => true);
  assert.equal(trace.spans[0].attributes['app.same_client'], 'true');
  assert.equal(trace.spans[0].attributes['session.id'], await page.evaluate(() => document.body.dataset.session));
  await context.close();
});

/** A port that nothing listens on (bound once by the OS, then released). */
async function unusedPort() {
  const probe = createTcpServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

test('useTracedWebSocket reconnects with growing delays until the backend is up', async () => {
  const port = await unusedPort();
  const context = await chrome.newContext();
  const page = await context.newPage();
  await page.goto(`${site}/?collector=${encodeURIComponent(tw.otlp)}&ws=${encodeURIComponent(`ws://127.0.0.1:${port}/ws`)}`);
  await page.getByTestId('telemetry').filter({ hasText: 'ready' }).waitFor();
  await page.evaluate(() => {
    window.reconnectTimes = [];
    const counter = document.querySelector('[data-testid=reconnects]');
    new MutationObserver(() => window.reconnectTimes.push(performance.now()))
      .observe(counter, { childList: true, characterData: true, subtree: true });
  });
  // The example's schedule: 250 ms doubling, +-20% jitter. Attempts 2 and 3 wait 500 and 1000 ms.
  await page.getByTestId('reconnects').filter({ hasText: /^[3-9]$/ }).waitFor({ timeout: 10_000 });
  const times = await page.evaluate(() => window.reconnectTimes);
  assert.ok(times.length >= 2, `reconnect times: ${times}`);
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  assert.ok(gaps[0] >= 400, `second delay ${gaps[0]} ms, expected 500 +-20%`);
  assert.ok(gaps[1] === undefined || gaps[1] >= 800, `third delay ${gaps[1]} ms, expected 1000 +-20%`);
  assert.ok(await page.getByTestId('ready-state').textContent() !== 'open');

  // The backend comes up on that port; the next attempt connects and messages flow.
  const target = process.env.CARGO_TARGET_DIR ?? fileURLToPath(new URL('../../target', import.meta.url));
  const backendProcess = spawn(join(target, 'debug', 'agent-backend'),
    ['--listen', `127.0.0.1:${port}`, '--otlp-endpoint', tw.otlp], { stdio: 'ignore' });
  try {
    await page.getByTestId('ready-state').filter({ hasText: 'open' }).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'List agents' }).click();
    await page.locator('[data-testid=replies] li[data-type=agents]').waitFor();
  } finally {
    backendProcess.kill('SIGTERM');
  }
  // The backend went away: the hook notices and starts reconnecting again.
  await page.getByTestId('ready-state').filter({ hasText: /closed|connecting/ }).waitFor();
  await context.close();
});
