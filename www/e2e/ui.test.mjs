// Browser tests of the collector's embedded UI: a real collector process, filled by the real
// OpenTelemetry Python SDK and by browser-like OTLP/JSON spans, driven in headless Chromium.
// Every test saves a screenshot under www/e2e-artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BACKEND_RESOURCE, BROWSER_RESOURCE, eventually, exchange, getJson, launchBrowser, newPage, postJson, postLogs,
  screenshot, sendBrowserActivity, sendExchanges, sendWithPythonSdk, spanId, startCollector, traceId,
} from './harness.mjs';

let collector;
let browser;
let py;
let ex;
const now = Date.now();

before(async () => {
  collector = await startCollector('filled');
  browser = await launchBrowser();
  py = await sendWithPythonSdk(collector.otlp);
  // Twenty exchanges over the last ten minutes, every fifth an error, two message types.
  const all = [];
  for (let i = 0; i < 20; i++) {
    all.push(exchange({ t0: now - 600_000 + i * 30_000, type: i % 2 ? 'chat' : 'run_agent', serverMs: 20 + i * 3, error: i % 5 === 4 }));
  }
  ex = all[all.length - 2];
  await sendExchanges(collector.otlp, all);
  await sendBrowserActivity(collector.otlp, { sessionId: 'sess-e2e-1', nowMs: now });
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

describe('search', () => {
  test('finds the Python SDK trace and the WebSocket traces, plots them, and opens a trace on click', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/`);
    const rows = page.locator('.trace-row');
    await rows.first().waitFor();
    const text = await page.locator('.results').innerText();
    assert.match(text, /py-backend\s+GET \/agents/);
    assert.match(text, /web-app\s+ws\.send run_agent/);
    assert.equal(await rows.count(), 22);
    // The Python trace has an error child; its row is marked.
    assert.equal(await page.locator('.trace-row.has-error', { hasText: 'GET /agents' }).count(), 1);
    // The scatter plot is drawn (uPlot canvas with a non-zero size).
    const box = await page.locator('.chart canvas').first().boundingBox();
    assert.ok(box && box.width > 400 && box.height > 100, `canvas ${JSON.stringify(box)}`);
    await screenshot(page, 'search');

    await page.locator('.trace-row', { hasText: 'GET /agents' }).click();
    await page.waitForURL(new RegExp(`/trace/${py.spans[0].trace_id}$`));
    await page.locator('.wf-row').first().waitFor();
    assert.deepEqual(page.errors, []);
  });

  test('keeps filters in the URL and applies them after a reload', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/`);
    await page.locator('.trace-row').first().waitFor();
    await page.fill('input[name=service]', 'py-backend');
    await page.check('input[name=errors]');
    await page.click('button[type=submit]');
    await page.waitForURL(/service=py-backend/);
    assert.match(page.url(), /status=error/);
    await page.reload();
    await eventually(async () => (await page.locator('.trace-row').count()) === 1, 10_000, 'one row');
    assert.equal(await page.inputValue('input[name=service]'), 'py-backend');
    assert.ok(await page.isChecked('input[name=errors]'));
    assert.match(await page.locator('.results').innerText(), /GET \/agents/);

    // Clicking the plotted point opens that trace: a lone point sits in the middle of the x range.
    const over = page.locator('.chart .u-over');
    const size = await over.boundingBox();
    // Hover down the middle until the tooltip names the trace, then click there.
    let hit = null;
    for (let y = 2; y < size.height && !hit; y += 10) {
      await over.hover({ position: { x: size.width / 2, y } });
      const title = await over.getAttribute('title');
      if (title) hit = { y, title };
    }
    assert.ok(hit, 'hovering the plot finds the point');
    assert.match(hit.title, /py-backend: GET \/agents · [0-9.]+ ms · error/);
    await over.click({ position: { x: size.width / 2, y: hit.y } });
    const traceUrl = new RegExp(`/trace/${py.spans[0].trace_id}$`);
    await page.waitForURL(traceUrl, { timeout: 5_000 });
    await screenshot(page, 'search-filtered-trace');
  });

  test('the scatter plot works with the keyboard alone: Tab to it, arrows ring a trace and say which, Enter opens it', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/`);
    await page.locator('.trace-row').first().waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');
    for (let i = 0; i < 40 && !(await focused()).startsWith('Duration of each trace'); i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Duration of each trace over time. Arrow keys move between points, Enter opens its trace.');
    const said = page.locator('.chart-said');
    assert.equal(await said.getAttribute('aria-live'), 'polite');
    const ring = page.locator('.chart-mark');
    assert.ok(!(await ring.isVisible()), 'no ring before a key is pressed');
    // The newest trace is the Python SDK's; Left goes to the one before it, Right comes back.
    await page.keyboard.press('End');
    assert.match(await said.innerText(), /^\d\d:\d\d:\d\d · py-backend: GET \/agents · [0-9.]+ ms · error$/);
    const box = await ring.boundingBox();
    const plot = await page.locator('.chart .u-over').boundingBox();
    assert.ok(box && box.x > plot.x && box.x + box.width < plot.x + plot.width + 10, `ring ${JSON.stringify(box)} in the plot ${JSON.stringify(plot)}`);
    await page.keyboard.press('ArrowLeft');
    assert.match(await said.innerText(), / · web-app: /);
    assert.notDeepEqual(await ring.boundingBox(), box);
    await screenshot(page, 'search-keyboard');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Enter');
    await page.waitForURL(new RegExp(`/trace/${py.spans[0].trace_id}$`), { timeout: 5_000 });
    await page.locator('.wf-row').first().waitFor();
    assert.deepEqual(page.errors, []);
  });

  test('session, user and attribute filters reach the API under their contract names and select traces', async () => {
    const page = await newPage(browser);
    const requested = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/traces?')) requested.push(new URL(r.url()).searchParams);
    });
    await page.goto(`${collector.api}/?session_id=sess-e2e-1&user_id=u-17&attr=ws.message.type%3Dchat`);
    await eventually(() => requested.length > 0, 10_000, 'the search request');
    const q = requested[0];
    assert.equal(q.get('session_id'), 'sess-e2e-1');
    assert.equal(q.get('user_id'), 'u-17');
    assert.deepEqual(q.getAll('attr'), ['ws.message.type=chat']);
    // The filter form shows them (the extra filters open by themselves).
    assert.equal(await page.inputValue('input[name=session_id]'), 'sess-e2e-1');
    // The collector applies them: the ten chat exchanges of that session and user, nothing else.
    await page.locator('.trace-row').first().waitFor();
    const names = await page.$$eval('.trace-row', (rows) => rows.map((r) => r.children[1].textContent.trim()));
    assert.equal(names.length, 10, names.join(', '));
    assert.ok(names.every((n) => /^web-app\s*ws\.send chat/.test(n)), names.join(', '));
    await screenshot(page, 'search-session-filters');
  });
});

describe('trace', () => {
  test('shows browser and backend spans in one tree, in order, with the uplink and downlink', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/trace/${ex.trace}?time=raw`);
    await page.locator('.wf-row').first().waitFor();
    const rows = await page.$$eval('.wf-row', (els) =>
      els.map((e) => [e.dataset.spanId, Number(e.dataset.depth), e.dataset.source]),
    );
    assert.deepEqual(rows, [
      [ex.ids.send, 0, 'browser'],
      [ex.ids.recv, 1, 'backend'],
      [ex.ids.db, 2, 'backend'],
      [ex.ids.reply, 2, 'browser'],
      [ex.ids.proc, 3, 'browser'],
    ]);
    // Raw clocks: the browser runs 40 ms ahead, so the backend "started" before the send.
    const up = page.locator(`.wf-row[data-span-id="${ex.ids.recv}"] .gap.uplink`);
    assert.ok(await up.evaluate((e) => e.classList.contains('skewed')), 'raw uplink is marked as clock skew');
    assert.match(await up.innerText(), /↑ −35\.0 ms/);
    assert.equal(await page.locator(`.wf-row[data-span-id="${ex.ids.reply}"] .gap.downlink`).count(), 1);
    assert.equal(await page.locator('.offset-band').count(), 0, 'no uncertainty band on raw clocks');
    await screenshot(page, 'trace-raw');

    await page.getByLabel('Skew-corrected').check();
    await page.waitForURL((u) => !u.searchParams.has('time'));
    // The collector moved the browser spans onto the server clock (offset about −40 ms, from the
    // session's round trips): the uplink is positive again and close to the true 5 ms.
    await eventually(async () => !(await up.evaluate((e) => e.classList.contains('skewed'))), 5_000, 'corrected uplink');
    const upMs = Number((await up.innerText()).match(/↑ ([0-9.]+) ms/)?.[1]);
    assert.ok(upMs >= 0 && upMs <= 11, `corrected uplink ${upMs} ms`);
    assert.match(await page.locator('#time-help').innerText(), /moved onto the backend clock/);
    // Each browser span carries its session's offset uncertainty as a shaded band; backend spans,
    // the reference clock, have none.
    assert.equal(await page.locator('.wf-row[data-source="browser"] .offset-band').count(), 3);
    assert.equal(await page.locator('.wf-row[data-source="backend"] .offset-band').count(), 0);
    assert.match(await page.locator(`.wf-row[data-span-id="${ex.ids.send}"] .offset-band`).getAttribute('title'), /± 5\.60 ms/);
    const trace = (await getJson(`${collector.api}/api/traces/${ex.trace}`)).body;
    const send = trace.spans.find((s) => s.span_id === ex.ids.send);
    assert.equal(send.source, 'browser');
    assert.ok(send.clock_offset_ns < -30e6 && send.clock_offset_ns > -50e6, `offset ${send.clock_offset_ns}`);
    assert.equal(send.clock_offset_uncertainty_ns, 5_600_000);
    await screenshot(page, 'trace-corrected');
    assert.deepEqual(page.errors, []);
  });

  test('the side panel shows attributes, events, resource and status; keyboard moves through the tree', async () => {
    const page = await newPage(browser, { colorScheme: 'dark' });
    await page.goto(`${collector.api}/trace/${py.spans[0].trace_id}`);
    await page.locator('.wf-row').first().waitFor();
    const tree = page.getByRole('tree');
    await tree.focus();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const child = py.spans.find((s) => s.parent_span_id);
    await page.waitForURL(new RegExp(`span=${child.span_id}`));
    const panel = page.getByRole('complementary', { name: 'Span details' });
    await panel.waitFor();
    const text = await panel.innerText();
    assert.match(text, /SELECT agents/);
    assert.match(text, /Error: database is locked/);
    assert.match(text, /db\.system\s+sqlite/);
    assert.match(text, /service\.version\s+1\.2\.3/);
    assert.match(text, new RegExp(child.span_id));
    // Deep link: a reload lands on the same span with the panel open.
    await page.reload();
    await page.getByRole('complementary', { name: 'Span details' }).waitFor();
    await page.keyboard.press('Escape');
    await screenshot(page, 'trace-dark-panel');

    await page.goto(`${collector.api}/trace/${py.spans[0].trace_id}?span=${py.spans.find((s) => !s.parent_span_id).span_id}`);
    const rootPanel = await page.getByRole('complementary', { name: 'Span details' }).innerText();
    assert.match(rootPanel, /Events \(1\)[\s\S]*auth\.checked[\s\S]*user\.id\s+u-17/);
    assert.match(text, /Links \(1\)/);
    assert.deepEqual(page.errors, []);
  });

  test('a 5,000-span trace renders quickly, keeps the DOM small and scrolls to its last span', async () => {
    const trace = traceId();
    const start = BigInt(now - 120_000) * 1_000_000n;
    const ids = Array.from({ length: 5000 }, () => spanId());
    const spans = ids.map((id, i) => ({
      traceId: trace, spanId: id, parentSpanId: i === 0 ? undefined : ids[Math.floor((i - 1) / 4)],
      name: `step ${i}`, kind: 1,
      startTimeUnixNano: (start + BigInt(i) * 1_000_000n).toString(),
      endTimeUnixNano: (start + BigInt(i) * 1_000_000n + 5_000_000n).toString(),
      attributes: [{ key: 'i', value: { intValue: String(i) } }],
    }));
    await postJson(`${collector.otlp}/v1/traces`, {
      resourceSpans: [{ resource: { attributes: BACKEND_RESOURCE }, scopeSpans: [{ spans }] }],
    });
    const page = await newPage(browser);
    const t0 = Date.now();
    await page.goto(`${collector.api}/trace/${trace}`);
    await page.locator('.wf-row').first().waitFor();
    const loadMs = Date.now() - t0;
    assert.match(await page.locator('.trace-meta').innerText(), /5000 spans/);
    const domRows = await page.locator('.wf-row').count();
    assert.ok(domRows < 120, `only visible rows are in the DOM (${domRows})`);
    // Scroll through the whole list in steps, timing the frames.
    const frames = await page.evaluate(async () => {
      const list = document.querySelector('.wf-rows');
      const times = [];
      for (let y = 0; y <= list.scrollHeight; y += 2000) {
        const t = performance.now();
        list.scrollTop = y;
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        times.push(performance.now() - t);
      }
      list.scrollTop = list.scrollHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      times.sort((a, b) => a - b);
      return { median: times[Math.floor(times.length / 2)], max: times[times.length - 1], n: times.length };
    });
    // Depth first with four children each: the last row is the last child's last child, and so on.
    let lastRow = 0;
    while (4 * lastRow + 4 < 5000) lastRow = 4 * lastRow + 4;
    await page.locator('.wf-row .ellipsis', { hasText: new RegExp(`^step ${lastRow}$`) }).waitFor();
    console.log(`5,000-span trace: first rows after ${loadMs} ms; scroll steps ${frames.n}, median ${frames.median.toFixed(1)} ms, max ${frames.max.toFixed(1)} ms`);
    assert.ok(loadMs < 5_000, `loaded in ${loadMs} ms`);
    assert.ok(frames.median < 100, `median scroll step ${frames.median} ms`);
    await screenshot(page, 'trace-5000');
  });
});

describe('websocket dashboard, session and live tail', () => {
  test('the dashboard draws latency percentiles, lists message types and hot endpoints, and drills into traces', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/ws`);
    await page.locator('.chart canvas').first().waitFor();
    await page.getByRole('application', { name: /^Errors per second by type/ }).waitFor();
    assert.equal(await page.locator('.chart').count(), 7);
    // Every latency chart has drawn samples: uPlot's series paths cover non-blank pixels.
    const inked = await page.$$eval('.chart canvas', (cs) =>
      cs.map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0) n++;
        return n;
      }),
    );
    assert.ok(inked.every((n) => n > 500), `ink per chart ${inked}`);
    assert.match(await page.locator('.chart').first().innerText(), /p50[\s\S]*p95[\s\S]*p99/);
    const types = await page.getByRole('table', { name: 'Message types' }).innerText();
    assert.match(types, /run_agent/);
    assert.match(types, /chat/);
    // Every message of these was traced: nothing counted without a trace, nothing dropped.
    assert.match(types, /Traced \/ counted/);
    assert.equal(await page.getByRole('note').filter({ hasText: /counted without a trace|dropped/ }).count(), 0);
    assert.match(await page.locator('.slowest').innerText(), /chat|run_agent/);
    const hot = page.getByRole('table', { name: 'Hot routes' });
    assert.match(await hot.innerText(), /\/api\/agents\/status\s+120/);
    assert.match(await page.getByRole('table', { name: /Busiest sessions/ }).innerText(), /sess-e2e-1/);
    // Keyboard drill-down: focus the round-trip chart, End goes to the newest bucket with data.
    await page.locator('.chart-box').first().focus();
    await page.keyboard.press('End');
    assert.match(await page.locator('.chart-said').first().innerText(), /^\d\d:\d\d:\d\d · p50: [0-9.]+ ms$/);
    await page.keyboard.press('ArrowUp');
    assert.match(await page.locator('.chart-said').first().innerText(), / · p95: [0-9.]+ ms$/);
    await page.keyboard.press('Enter');
    await page.locator('.drill table').waitFor();
    await screenshot(page, 'ws-dashboard');
    // Dark mode recolours the charts (they read the page's CSS variables when drawn).
    await page.emulateMedia({ colorScheme: 'dark' });
    await eventually(async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 5_000, 'dark theme');
    // The redrawn chart keeps the keyboard focus; the ring shows on the dark background.
    await page.keyboard.press('End');
    await page.locator('.chart-mark').first().waitFor();
    await screenshot(page, 'ws-dashboard-dark');
    await page.locator('.drill tbody a').first().click();
    await page.waitForURL(/\/trace\/[0-9a-f]{32}\?span=/);
    await page.locator('.wf-row').first().waitFor();
    assert.deepEqual(page.errors, []);
  });

  test('messages and errors per second by message type are charted, and a point lists that type\'s round trips', async () => {
    const page = await newPage(browser);
    const answer = page.waitForResponse((r) => r.url().includes('/api/ws/rates?'));
    await page.goto(`${collector.api}/ws`);
    const rates = await (await answer).json();
    assert.deepEqual(rates.types.map((t) => t.message_type).sort(), ['chat', 'run_agent']);
    const messages = page.locator('.chart', { hasText: 'Messages per second by type' });
    const errors = page.locator('.chart', { hasText: 'Errors per second by type' });
    for (const chart of [messages, errors]) assert.match(await chart.locator('.u-legend').innerText(), /chat[\s\S]*run_agent/);
    // The newest step with a failed chat message: End, back to that step, Up to the highest
    // value there (chat's, the only error in it), Enter.
    const chat = rates.types.find((t) => t.message_type === 'chat');
    const k = chat.errors.findLastIndex((n) => n > 0);
    await errors.getByRole('application').focus();
    await page.keyboard.press('End');
    for (let i = chat.errors.length - 1; i > k; i--) await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowUp');
    const perS = chat.errors[k] / (rates.step_ns / 1e9);
    assert.match(await errors.locator('.chart-said').innerText(), new RegExp(` · chat: ${perS.toPrecision(2)} /s$`));
    await page.keyboard.press('Enter');
    const drill = page.locator('.drill');
    await drill.locator('tbody tr').first().waitFor();
    assert.match(await drill.locator('h2').innerText(), /^chat errors: round trips from/);
    const rows = await drill.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.children[1].textContent, tr.classList.contains('has-error')]));
    assert.ok(rows.every(([type]) => type === 'chat'), JSON.stringify(rows));
    assert.equal(rows.filter(([, error]) => error).length, chat.errors[k]);
    assert.ok(rows[0][1], 'failed round trips first');
    await drill.scrollIntoViewIfNeeded();
    await screenshot(page, 'ws-dashboard-rates');
    await page.emulateMedia({ colorScheme: 'dark' });
    await eventually(async () => (await page.evaluate(() => document.documentElement.dataset.theme)) === 'dark', 5_000, 'dark theme');
    await screenshot(page, 'ws-dashboard-rates-dark');
    assert.deepEqual(page.errors, []);
  });

  test('the session page shows messages, requests and errors on the time line', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/sessions/sess-e2e-1`);
    await page.locator('.timeline svg rect.mark').first().waitFor();
    const facts = await page.locator('.facts').innerText();
    assert.match(facts, /sess-e2e-1/);
    assert.match(facts, /u-17/);
    assert.match(facts, /from \d+ round trips?/);
    // Every exchange had a 5 ms uplink and a 6 ms downlink with the browser 40 ms ahead: the
    // offset is bounded to [−46, −35] ms, widened by the 0.1 ms browser clock resolution.
    assert.equal(await page.locator('#clock-offset').innerText(), '−40.5 ms ± 5.60 ms');
    assert.match(facts, /60 messages, 4 requests, 1 errors/);
    assert.ok((await page.locator('.timeline rect.mark').count()) >= 62);
    // The error sits on its own lane (the event list is virtualised, the time line is not).
    assert.equal(await page.locator('.timeline rect.mark > title').filter({ hasText: 'TypeError: agent is undefined' }).count(), 1);
    await screenshot(page, 'session');
    assert.deepEqual(page.errors, []);
  });

  test('the live tail shows a new span within 2 s, and pausing holds it back', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/live`);
    await page.getByText('Connected', { exact: true }).waitFor();
    const name = `live-${Date.now()}`;
    const sent = Date.now();
    await postJson(`${collector.otlp}/v1/traces`, {
      resourceSpans: [{ resource: { attributes: BACKEND_RESOURCE }, scopeSpans: [{ spans: [{
        traceId: traceId(), spanId: spanId(), name, kind: 2,
        startTimeUnixNano: `${BigInt(sent) * 1_000_000n}`, endTimeUnixNano: `${BigInt(sent + 3) * 1_000_000n}`,
      }] }] }],
    });
    await page.locator('.trace-row', { hasText: name }).waitFor({ timeout: 2_000 });
    console.log(`live tail: span visible ${Date.now() - sent} ms after the POST was sent`);
    await page.getByRole('button', { name: 'Pause' }).click();
    const held = `held-${Date.now()}`;
    await postJson(`${collector.otlp}/v1/traces`, {
      resourceSpans: [{ resource: { attributes: BACKEND_RESOURCE }, scopeSpans: [{ spans: [{
        traceId: traceId(), spanId: spanId(), name: held, kind: 2,
        startTimeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`, endTimeUnixNano: `${BigInt(Date.now() + 1) * 1_000_000n}`,
      }] }] }],
    });
    await page.getByRole('button', { name: /Resume \(1 new\)/ }).waitFor({ timeout: 3_000 });
    assert.equal(await page.locator('.trace-row', { hasText: held }).count(), 0);
    await page.getByRole('button', { name: /Resume/ }).click();
    await page.locator('.trace-row', { hasText: held }).waitFor({ timeout: 2_000 });
    await screenshot(page, 'live');

    // Filtered by service: another service's span does not show.
    await page.getByLabel('Service').selectOption('py-backend');
    await page.waitForURL(/\/live\?service=py-backend/);
    await page.getByText('Connected', { exact: true }).waitFor();
    const other = `other-${Date.now()}`;
    await postJson(`${collector.otlp}/v1/traces`, {
      resourceSpans: [{ resource: { attributes: BACKEND_RESOURCE }, scopeSpans: [{ spans: [{
        traceId: traceId(), spanId: spanId(), name: other, kind: 2,
        startTimeUnixNano: `${BigInt(Date.now()) * 1_000_000n}`, endTimeUnixNano: `${BigInt(Date.now() + 1) * 1_000_000n}`,
      }] }] }],
    });
    await sendWithPythonSdk(collector.otlp);
    await page.locator('.trace-row', { hasText: 'GET /agents' }).first().waitFor({ timeout: 5_000 });
    assert.equal(await page.locator('.trace-row', { hasText: other }).count(), 0);
    assert.deepEqual(page.errors, []);
  });
});

describe('a new collector', () => {
  test('a single round trip shows as a dot on each latency chart', async () => {
    const fresh = await startCollector('lone');
    try {
      await sendExchanges(fresh.otlp, [exchange({ t0: Date.now() - 120_000 })]);
      const page = await newPage(browser);
      await page.goto(`${fresh.api}/ws`);
      await page.locator('.chart canvas').first().waitFor();
      // Pixels in the colours of p50, p95 and p99 (Ws.tsx): the one bucket with a sample has no
      // neighbour to draw a line to, so it must be drawn as a point.
      const dots = await page.$$eval('.chart canvas', (cs) =>
        cs.slice(0, 4).map((c) => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          const colors = [[0x2e, 0xa3, 0x6b], [0xe0, 0xa1, 0x06], [0xd9, 0x4f, 0x4f]];
          let n = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (colors.some(([r, g, b]) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 24)) n++;
          }
          return n;
        }),
      );
      assert.ok(dots.every((n) => n >= 10), `series pixels per latency chart ${dots}`);
      await screenshot(page, 'ws-dashboard-one-round-trip');
      assert.deepEqual(page.errors, []);
    } finally {
      await fresh.stop();
    }
  });

  test('message types show traced and counted messages, and a line names the untraced ones and the SDK\'s drops', async () => {
    const fresh = await startCollector('counted');
    try {
      const t0 = Date.now() - 120_000;
      await sendExchanges(fresh.otlp, [exchange({ t0, type: 'chat' }), exchange({ t0: t0 + 1_000, type: 'chat' })]);
      const int = (key, n) => ({ key, value: { intValue: String(n) } });
      const at = String(BigInt(t0 + 5_000) * 1_000_000n);
      await postLogs(fresh.otlp, BROWSER_RESOURCE, [
        {
          timeUnixNano: at, severityNumber: 9, eventName: 'ws.message_rate',
          body: { stringValue: '1200 messages counted on ws://app/ws' },
          attributes: [
            { key: 'ws.message.type', value: { stringValue: 'chat' } },
            int('ws.counted.sent', 1200), int('ws.counted.received', 1200), int('ws.counted.errors', 0),
          ],
        },
        { timeUnixNano: at, severityNumber: 13, eventName: 'tracewire.dropped', attributes: [int('tracewire.dropped.count', 7)] },
      ]);
      const page = await newPage(browser);
      await page.goto(`${fresh.api}/ws`);
      const row = page.getByRole('table', { name: 'Message types' }).locator('tr', { hasText: 'chat' });
      await row.waitFor();
      assert.match(await row.innerText(), /\b1202\b[\s\S]*2 \/ 1,200/);
      const note = page.getByRole('note');
      assert.match(await note.innerText(), /^1,200 messages were counted without a trace .*; the SDK dropped 7 items/);
      await screenshot(page, 'ws-dashboard-counted');
      assert.deepEqual(page.errors, []);
    } finally {
      await fresh.stop();
    }
  });

  test('the empty search page shows the curl command, and that command stores a first span', async () => {
    const fresh = await startCollector('empty');
    try {
      const page = await newPage(browser);
      await page.goto(`${fresh.api}/`);
      await page.getByText('No spans stored yet').waitFor();
      const cmd = await page.locator('.snippet').innerText();
      assert.match(cmd, /curl -s http:\/\/127\.0\.0\.1:4318\/v1\/traces/);
      await screenshot(page, 'search-empty');
      // Run the shown command against this collector's ingest port.
      const body = JSON.parse(cmd.slice(cmd.indexOf("-d '") + 4, cmd.lastIndexOf("'")));
      await postJson(`${fresh.otlp}/v1/traces`, body);
      await page.reload();
      await page.locator('.trace-row', { hasText: 'GET /cart' }).waitFor();
    } finally {
      await fresh.stop();
    }
  });
});
