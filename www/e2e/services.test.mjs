// Browser tests of the Services pages and the service map: a real collector process filled with
// browser-like WebSocket exchanges (a page's ws.send continued by agent-backend) and backend
// HTTP calls (agent-backend calling agent-tools), driven in headless Chromium. Every test saves a
// screenshot under www/e2e-artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKEND_RESOURCE, eventually, exchange, getJson, launchBrowser, newPage, postJson, screenshot, sendExchanges, spanId, startCollector, traceId } from './harness.mjs';

let collector;
let browser;
const now = Date.now();
const str = (key, value) => ({ key, value: { stringValue: String(value) } });
const ns = (ms) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();
const TOOLS_RESOURCE = [str('service.name', 'agent-tools'), str('telemetry.sdk.language', 'rust')];

/** agent-backend serving `GET /api/agents` and calling agent-tools over HTTP, `count` times over the
 * last ten minutes; every `failEvery`th tools call fails. Slow calls take `slowMs`. */
async function sendHttpCalls(otlp, count, failEvery) {
  const backend = [];
  const tools = [];
  for (let i = 0; i < count; i++) {
    const t0 = now - 600_000 + i * 19_000;
    const trace = traceId();
    const ids = { root: spanId(), client: spanId(), server: spanId() };
    const ms = 10 + (i % 7) * 5;
    const failed = i % failEvery === failEvery - 1;
    backend.push(
      { traceId: trace, spanId: ids.root, name: 'GET /api/agents', kind: 2, startTimeUnixNano: ns(t0), endTimeUnixNano: ns(t0 + ms + 4) },
      { traceId: trace, spanId: ids.client, parentSpanId: ids.root, name: 'GET /tools/{agent}', kind: 3, startTimeUnixNano: ns(t0 + 1), endTimeUnixNano: ns(t0 + ms + 2) },
    );
    tools.push({
      traceId: trace, spanId: ids.server, parentSpanId: ids.client, name: 'GET /tools/{agent}', kind: 2,
      startTimeUnixNano: ns(t0 + 2), endTimeUnixNano: ns(t0 + ms + 1), status: failed ? { code: 2, message: 'unknown agent' } : {},
    });
  }
  for (const [resource, spans] of [[BACKEND_RESOURCE, backend], [TOOLS_RESOURCE, tools]]) {
    await postJson(`${otlp}/v1/traces`, { resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ spans }] }] });
  }
}

before(async () => {
  collector = await startCollector('services');
  browser = await launchBrowser();
  // Twenty WebSocket exchanges (every fifth fails in agent-backend), thirty HTTP calls to the
  // tools service (every tenth fails).
  const all = [];
  for (let i = 0; i < 20; i++) all.push(exchange({ t0: now - 600_000 + i * 30_000, type: i % 2 ? 'chat' : 'run_agent', serverMs: 20 + i * 3, error: i % 5 === 4 }));
  await sendExchanges(collector.otlp, all);
  await sendHttpCalls(collector.otlp, 30, 10);
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

/** The rows of a table as the text of each cell. */
async function cells(table) {
  return table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
}

describe('services', () => {
  test('lists every service with rate, error ratio and p95 sparklines, sortable by clicking or by keyboard', async () => {
    const page = await newPage(browser);
    const answer = page.waitForResponse((r) => r.url().includes('/api/services?'));
    await page.goto(`${collector.api}/services`);
    const api = await (await answer).json();
    const table = page.getByRole('table', { name: 'Services' });
    await table.locator('tbody tr').first().waitFor();
    // Busiest first: agent-backend handles 20 messages and 30 requests, the page receives 20
    // replies and processes each (CONSUMER spans), agent-tools serves 30 requests.
    const rows = await cells(table);
    assert.deepEqual(rows.map((r) => r[0].replace(/browser$/, '').trim()), ['agent-backend', 'web-app', 'agent-tools']);
    const backend = api.services.find((s) => s.name === 'agent-backend');
    assert.equal(backend.calls, 50);
    assert.equal(backend.errors, 4);
    assert.equal(rows[0][4], '50');
    assert.match(rows[0][2], /^8\.0%$/);
    assert.equal(api.services.find((s) => s.name === 'web-app').source, 'browser');
    assert.match(await table.locator('tbody tr', { hasText: 'web-app' }).innerText(), /browser/);
    // Three sparklines a row, each drawn from the series and named for screen readers.
    assert.equal(await table.locator('tbody tr').first().locator('svg.spark').count(), 3);
    assert.ok((await table.locator('tbody tr').first().locator('svg.spark polyline, svg.spark circle').count()) >= 3);
    await page.getByRole('img', { name: 'p95 latency of agent-backend per step' }).waitFor();
    await screenshot(page, 'services');

    // Sort by p95 with a click: slowest first, in the URL, kept on reload.
    await table.getByRole('button', { name: 'p95' }).click();
    await page.waitForURL(/sort=p95_ns/);
    const byP95 = [...api.services].sort((a, b) => (b.p95_ns ?? -1) - (a.p95_ns ?? -1)).map((s) => s.name);
    assert.deepEqual((await cells(table)).map((r) => r[0].replace(/browser$/, '').trim()), byP95);
    assert.equal(await table.locator('th[aria-sort=descending]').innerText(), 'p95▼');
    // The keyboard alone: Tab to the Service header, Enter sorts by name, Enter again reverses.
    const focused = () => page.evaluate(() => document.activeElement?.textContent ?? '');
    for (let i = 0; i < 30 && (await focused()) !== 'Service'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Service');
    await page.keyboard.press('Enter');
    await page.waitForURL(/sort=name/);
    assert.deepEqual((await cells(table)).map((r) => r[0].replace(/browser$/, '').trim()), ['agent-backend', 'agent-tools', 'web-app']);
    await page.keyboard.press('Enter');
    await page.waitForURL(/order=reversed/);
    assert.deepEqual((await cells(table)).map((r) => r[0].replace(/browser$/, '').trim()), ['web-app', 'agent-tools', 'agent-backend']);
    await page.reload();
    await table.locator('tbody tr').first().waitFor();
    assert.equal(await table.locator('th[aria-sort=descending]').innerText(), 'Service▼');
    await page.emulateMedia({ colorScheme: 'dark' });
    await eventually(async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 5_000, 'dark theme');
    await screenshot(page, 'services-dark');
    assert.deepEqual(page.errors, []);
  });

  test('a service shows its charts and its operations, sortable by every column, each linked to its traces', async () => {
    const page = await newPage(browser);
    const answer = page.waitForResponse((r) => r.url().includes('/operations?'));
    await page.goto(`${collector.api}/services`);
    await page.getByRole('link', { name: 'agent-backend' }).click();
    await page.waitForURL(/\/services\/agent-backend$/);
    const { operations } = await (await answer).json();
    assert.deepEqual(operations.map((o) => [o.name, o.calls, o.errors]), [['GET /api/agents', 30, 0], ['ws.receive chat', 10, 2], ['ws.receive run_agent', 10, 2]]);
    for (const o of operations) assert.deepEqual(Object.keys(o).sort(), ['calls', 'error_ratio', 'errors', 'name', 'p50_ns', 'p95_ns', 'p99_ns', 'rate_per_s', 'series']);
    await page.locator('.chart canvas').first().waitFor();
    assert.equal(await page.locator('.chart').count(), 3);
    const table = page.getByRole('table', { name: 'Operations of agent-backend' });
    await table.locator('tbody tr').first().waitFor();
    const names = async () => (await cells(table)).map((r) => r[0]);
    assert.deepEqual(await names(), ['GET /api/agents', 'ws.receive chat', 'ws.receive run_agent']);
    // Every column sorts, largest first, then the other way round; ties by name.
    const columns = [['Errors', 'errors'], ['Error ratio', 'error_ratio'], ['Rate', 'rate_per_s'], ['p50', 'p50_ns'], ['p95', 'p95_ns'], ['p99', 'p99_ns'], ['Calls', 'calls']];
    const byName = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const sortedBy = (label, order) =>
      eventually(async () => (await table.locator(`th[aria-sort=${order}]`).innerText()).startsWith(label), 5_000, `${label} ${order}`);
    for (const [label, key] of columns) {
      const largest = [...operations].sort((a, b) => b[key] - a[key] || byName(a, b)).map((o) => o.name);
      const smallest = [...operations].sort((a, b) => a[key] - b[key] || byName(a, b)).map((o) => o.name);
      await table.getByRole('button', { name: label, exact: true }).click();
      await sortedBy(label, 'descending');
      assert.deepEqual(await names(), largest, `${label}, largest first`);
      await table.getByRole('button', { name: label, exact: true }).click();
      await sortedBy(label, 'ascending');
      assert.match(page.url(), /order=reversed/);
      assert.deepEqual(await names(), smallest, `${label}, smallest first`);
    }
    await table.getByRole('button', { name: 'Operation', exact: true }).click();
    await sortedBy('Operation', 'ascending');
    assert.match(page.url(), /sort=name/);
    assert.deepEqual(await names(), ['GET /api/agents', 'ws.receive chat', 'ws.receive run_agent']);
    await screenshot(page, 'service-operations');
    // An operation opens the search for its traces.
    await table.getByRole('link', { name: 'ws.receive chat' }).click();
    await page.waitForURL(/service=agent-backend/);
    assert.match(page.url(), /name=ws\.receive\+chat/);
    await eventually(async () => (await page.locator('.trace-row').count()) === 10, 10_000, 'ten chat traces');
    assert.deepEqual(page.errors, []);
  });

  test('an unknown service says so', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/services/nobody`);
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').innerText(), /no spans stored for service nobody/);
    const { status } = await getJson(`${collector.api}/api/services/nobody/operations`);
    assert.equal(status, 404);
  });
});

describe('service map', () => {
  test('draws browser, backends and their calls, width by calls and colour by errors; an edge searches its traces', async () => {
    const page = await newPage(browser);
    const answer = page.waitForResponse((r) => r.url().includes('/api/dependencies?'));
    await page.goto(`${collector.api}/dependencies`);
    const { edges } = await (await answer).json();
    assert.deepEqual(edges.map((e) => [e.from, e.to, e.calls, e.errors]), [
      ['agent-backend', 'agent-tools', 30, 3],
      ['agent-backend', 'web-app', 20, 0],
      ['web-app', 'agent-backend', 20, 4],
    ]);
    const map = page.locator('figure.map svg');
    await map.waitFor();
    // The browser on the left, then the backend, then the service it calls.
    const x = async (service) => (await page.locator(`a.node[data-service="${service}"] rect`).boundingBox()).x;
    assert.ok((await x('web-app')) < (await x('agent-backend')) && (await x('agent-backend')) < (await x('agent-tools')));
    assert.equal(await page.locator('a.node.browser').getAttribute('data-service'), 'web-app');
    const edge = (from, to) => page.locator(`a.edge[data-from="${from}"][data-to="${to}"]`);
    const width = async (from, to) => Number(await edge(from, to).locator('.edge-line').getAttribute('stroke-width'));
    assert.ok((await width('agent-backend', 'agent-tools')) > (await width('web-app', 'agent-backend')), 'busier edge is wider');
    // 3 of 30 failed: 10%; 4 of 20: 20%; the replies to the page: none.
    assert.match(await edge('agent-backend', 'agent-tools').getAttribute('class'), /\bmany\b/);
    assert.match(await edge('agent-backend', 'web-app').getAttribute('class'), /\bok\b/);
    const colour = async (from, to) => edge(from, to).locator('.edge-line').evaluate((p) => getComputedStyle(p).stroke);
    assert.notEqual(await colour('agent-backend', 'agent-tools'), await colour('agent-backend', 'web-app'));
    assert.match(await page.getByRole('table', { name: 'Calls between services' }).innerText(), /web-app\s+agent-backend\s+20\s+4 \(20\.0%\)/);
    await screenshot(page, 'dependency-map');

    // Click an edge: the search for the traces of its calls.
    await edge('web-app', 'agent-backend').locator('.edge-line').click({ force: true });
    await page.waitForURL(/parent_service=web-app/);
    assert.match(page.url(), /service=agent-backend/);
    await eventually(async () => (await page.locator('.trace-row').count()) === 20, 10_000, 'twenty traces');
    assert.equal(await page.locator('.trace-row.has-error').count(), 4);
    assert.deepEqual(page.errors, []);
  });

  test('every edge and service is reachable with the keyboard, and Enter follows it', async () => {
    const page = await newPage(browser, { colorScheme: 'dark' });
    await page.goto(`${collector.api}/dependencies`);
    await page.locator('a.edge').first().waitFor();
    const label = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    const seen = [];
    for (let i = 0; i < 40 && seen.length < 6; i++) {
      await page.keyboard.press('Tab');
      const l = await label();
      if (/ to .*calls?|open its operations/.test(l) && !seen.includes(l)) seen.push(l);
    }
    assert.equal(seen.length, 6, seen.join('\n'));
    assert.ok(seen.some((l) => /^agent-backend to agent-tools: 30 calls, 3 errors, p95 [0-9.]+ ms\. Search its traces\.$/.test(l)), seen.join('\n'));
    assert.ok(seen.includes('web-app (browser): open its operations'), seen.join('\n'));
    // Back to the tools edge, then Enter.
    for (let i = 0; i < 40 && !(await label()).startsWith('agent-backend to agent-tools'); i++) await page.keyboard.press('Shift+Tab');
    await screenshot(page, 'dependency-map-keyboard-dark');
    await page.keyboard.press('Enter');
    await page.waitForURL(/service=agent-tools&parent_service=agent-backend/);
    // The list is virtualised (only the rows in view exist): the summary counts them all.
    await eventually(async () => /^30 traces, 3 with errors/.test((await page.locator('.summary').textContent()) ?? ''), 10_000, 'thirty traces');
    assert.deepEqual(page.errors, []);
  });
});
