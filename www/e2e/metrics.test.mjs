// Browser tests of the Metrics explorer: a real collector process fed with OTLP/JSON metrics of
// known values (a cumulative counter per route, a gauge, a delta histogram), driven in headless
// Chromium through the page's own controls. The values the page renders are checked against the
// ones computed here from what was sent. Every test saves a screenshot under www/e2e-artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, newPage, postJson, screenshot, startCollector } from './harness.mjs';

let collector;
let browser;
const MINUTE = 60_000;
// Points sit 20 s into the last five whole minutes, one per minute step.
const base = Math.floor(Date.now() / MINUTE) * MINUTE;
const at = (k, s = 20) => base - k * MINUTE + s * 1000;
const ns = (ms) => (BigInt(Math.round(ms)) * 1_000_000n).toString();
const str = (key, value) => ({ key, value: { stringValue: String(value) } });

/** `http.server.requests`: cumulative and monotonic, /a grows by 60 a minute (1/s), /b by 30 (0.5/s). */
function requests() {
  const start = ns(at(6, 0));
  const points = [];
  for (let k = 5; k >= 1; k--) {
    for (const [route, perMinute] of [['/a', 60], ['/b', 30]]) {
      points.push({ attributes: [str('route', route)], startTimeUnixNano: start, timeUnixNano: ns(at(k)), asInt: String(perMinute * (6 - k)) });
    }
  }
  return { name: 'http.server.requests', unit: '{request}', description: 'Requests served', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: points } };
}

/** `queue.depth`: 4 then 8 within one minute (avg 6, max 8). */
function queueDepth() {
  return {
    name: 'queue.depth', unit: '{item}', description: 'Jobs waiting',
    gauge: { dataPoints: [4, 8].map((v, i) => ({ attributes: [str('queue', 'jobs')], timeUnixNano: ns(at(2, 10 + 30 * i)), asDouble: v })) },
  };
}

/** `http.server.duration`: delta, ten observations a minute in (10, 50] ms: p50 30 ms, p90 46 ms. */
function duration() {
  const dataPoints = [3, 2, 1].map((k) => ({
    attributes: [str('route', '/a')], startTimeUnixNano: ns(at(k, 0)), timeUnixNano: ns(at(k)),
    count: '10', sum: 300, bucketCounts: ['0', '10', '0', '0'], explicitBounds: [10, 50, 100],
  }));
  return { name: 'http.server.duration', unit: 'ms', description: 'Request duration', histogram: { aggregationTemporality: 1, dataPoints } };
}

before(async () => {
  collector = await startCollector('metrics');
  browser = await launchBrowser();
  await postJson(`${collector.otlp}/v1/metrics`, {
    resourceMetrics: [{ resource: { attributes: [str('service.name', 'shop-api')] }, scopeMetrics: [{ scope: { name: 'e2e' }, metrics: [requests(), queueDepth(), duration()] }] }],
  });
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

/** The Series table's rows: label, steps with data, last, min, max, mean. */
async function rows(page) {
  const table = page.getByRole('table', { name: 'Series' });
  await table.locator('tbody tr').first().waitFor();
  return table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent.trim())));
}

/** Waits until the Series table shows `expected` (the answer and the redraw are asynchronous). */
async function seriesRows(page, expected) {
  const end = Date.now() + 10_000;
  let last;
  while (Date.now() < end) {
    last = await rows(page).catch(() => null);
    if (JSON.stringify(last) === JSON.stringify(expected)) return;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(last, expected);
}

async function options(page, label) {
  const select = page.getByLabel(label, { exact: true });
  await select.waitFor();
  return select.locator('option').evaluateAll((os) => os.map((o) => o.value));
}
/** The chart legend's series names (the first entry is the time axis). */
const legend = (page) => page.locator('.u-legend .u-series .u-label').evaluateAll((ls) => ls.slice(1).map((l) => l.textContent.trim()));

describe('metrics explorer', () => {
  test('charts a counter per route by rate and increase through the controls, and the URL restores the choice', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/`);
    await page.getByRole('link', { name: 'Metrics', exact: true }).click();
    await page.waitForURL(/\/explore$/);
    assert.deepEqual(await options(page, 'Metric'), ['', 'histogram|http.server.duration', 'sum|http.server.requests', 'gauge|queue.depth']);
    await page.getByLabel('Metric', { exact: true }).selectOption({ label: 'http.server.requests (sum)' });
    await page.waitForURL(/name=http\.server\.requests&type=sum/);
    // A sum takes rate and increase only; the unit and description come from the catalogue.
    assert.deepEqual(await options(page, 'Aggregation'), ['rate', 'increase']);
    const facts = await page.getByLabel('About this metric').innerText();
    assert.match(facts, /\{request\}/);
    assert.match(facts, /Requests served/);
    assert.match(facts, /shop-api/);
    // Without groups, one series: 1.5 requests/s in each of the five minutes with data.
    await page.getByLabel('Step', { exact: true }).selectOption('1m');
    await seriesRows(page, [['all', '5', '1.5', '1.5', '1.5', '1.5']]);

    await page.getByRole('group', { name: 'Group by' }).getByLabel('route').check();
    await page.waitForURL(/group_by=route/);
    await seriesRows(page, [['route=/a', '5', '1', '1', '1', '1'], ['route=/b', '5', '0.5', '0.5', '0.5', '0.5']]);
    assert.deepEqual(await legend(page), ['route=/a', 'route=/b']);
    assert.match(await page.locator('.chart figcaption').innerText(), /http\.server\.requests · rate per second \(\{request\}\/s\)/);
    // Steps without data are gaps in the per-step values, not zeros.
    await page.getByText('Values per step', { exact: true }).click();
    const perStep = page.getByRole('table', { name: 'Values per step' });
    assert.equal(await perStep.locator('tbody tr').count(), 60);
    const values = await perStep.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((c) => c.textContent)));
    assert.equal(values.filter((v) => v[0] === '1' && v[1] === '0.5').length, 5);
    assert.equal(values.filter((v) => v[0] === '–' && v[1] === '–').length, 55);

    await page.getByLabel('Aggregation', { exact: true }).selectOption('increase');
    await page.waitForURL(/agg=increase/);
    await seriesRows(page, [['route=/a', '5', '60', '60', '60', '60'], ['route=/b', '5', '30', '30', '30', '30']]);
    await screenshot(page, 'metrics');

    // A reload, and the same link in a new page, restore every choice.
    const url = page.url();
    assert.match(url, /\/explore\?name=http\.server\.requests&type=sum&agg=increase&group_by=route&step=1m$/);
    for (const p of [page, await newPage(browser)]) {
      if (p === page) await p.reload();
      else await p.goto(url);
      await seriesRows(p, [['route=/a', '5', '60', '60', '60', '60'], ['route=/b', '5', '30', '30', '30', '30']]);
      assert.equal(await p.getByLabel('Metric', { exact: true }).inputValue(), 'sum|http.server.requests');
      assert.equal(await p.getByLabel('Aggregation', { exact: true }).inputValue(), 'increase');
      assert.equal(await p.getByLabel('Step', { exact: true }).inputValue(), '1m');
      assert.ok(await p.getByRole('group', { name: 'Group by' }).getByLabel('route').isChecked());
      assert.deepEqual(p.errors, []);
    }

    // A filter narrows to one route; one that matches nothing says there is no data.
    await page.getByLabel('Filter key').selectOption('route');
    await page.getByLabel('Filter value').fill('/b');
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.waitForURL(/attr\.route=%2Fb/);
    await seriesRows(page, [['route=/b', '5', '30', '30', '30', '30']]);
    await page.getByRole('button', { name: 'Remove the filter route = /b' }).click();
    await seriesRows(page, [['route=/a', '5', '60', '60', '60', '60'], ['route=/b', '5', '30', '30', '30', '30']]);
    await page.getByLabel('Filter value').fill('/nope');
    await page.getByRole('button', { name: 'Add filter' }).click();
    await page.getByRole('heading', { name: 'No data' }).waitFor();
    assert.match(await page.getByRole('status').innerText(), /No points of http\.server\.requests in the last 1h that match these filters/);
    assert.deepEqual(page.errors, []);
  });

  test('offers each type its own aggregations: a gauge by max, a histogram by p50, p90 and count', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/explore?step=1m`);
    await page.getByLabel('Metric', { exact: true }).selectOption('gauge|queue.depth');
    assert.deepEqual(await options(page, 'Aggregation'), ['avg', 'min', 'max', 'sum', 'last']);
    await seriesRows(page, [['all', '1', '6', '6', '6', '6']]);
    await page.getByLabel('Aggregation', { exact: true }).selectOption('max');
    await seriesRows(page, [['all', '1', '8', '8', '8', '8']]);

    // Picking another metric keeps the step but not an aggregation its type does not take.
    await page.getByLabel('Metric', { exact: true }).selectOption('histogram|http.server.duration');
    await page.waitForURL((u) => u.search === '?name=http.server.duration&type=histogram&step=1m');
    assert.deepEqual(await options(page, 'Aggregation'), ['p95', 'p50', 'p90', 'p99', 'count', 'rate']);
    await page.getByLabel('Aggregation', { exact: true }).selectOption('p50');
    await seriesRows(page, [['all', '3', '30', '30', '30', '30']]);
    await page.getByLabel('Aggregation', { exact: true }).selectOption('p90');
    await seriesRows(page, [['all', '3', '46', '46', '46', '46']]);
    await page.getByLabel('Aggregation', { exact: true }).selectOption('count');
    await seriesRows(page, [['all', '3', '10', '10', '10', '10']]);
    assert.match(await page.locator('.chart figcaption').innerText(), /\(observations\)/);
    await screenshot(page, 'metrics-histogram');
    assert.deepEqual(page.errors, []);
  });

  test("shows the collector's refusals with what to do, and says when nothing was sent", async () => {
    const page = await newPage(browser);
    // Seven days in ten-second steps is more steps than the collector takes.
    await page.goto(`${collector.api}/explore?name=http.server.requests&type=sum&range=7d&step=10s`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /step is too small for the window: 60480 steps, at most 11000/);
    assert.match(await alert.innerText(), /invalid_step/);
    assert.match(await page.locator('.metrics-hint').innerText(), /larger step or a shorter range/);
    // Back to the last hour: 360 steps of ten seconds, each minute's growth in one of them.
    await page.getByLabel('Time', { exact: true }).selectOption('1h');
    await page.waitForURL((u) => !u.search.includes('range='));
    await seriesRows(page, [['all', '5', '9', '9', '9', '9']]);

    // A shared link to a metric this collector never saw.
    await page.goto(`${collector.api}/explore?name=no.such.metric`);
    await alert.waitFor();
    assert.match(await alert.innerText(), /no metric named 'no\.such\.metric'/);
    assert.match(await page.locator('.metrics-hint').innerText(), /longer range or another metric/);
    await screenshot(page, 'metrics-error');

    // A collector without metrics shows how to send a first one.
    const empty = await startCollector('metrics-empty');
    try {
      const fresh = await newPage(browser);
      await fresh.goto(`${empty.api}/explore`);
      await fresh.getByRole('heading', { name: 'No metrics yet' }).waitFor();
      assert.match(await fresh.locator('.snippet').innerText(), /\/v1\/metrics/);
      assert.deepEqual(fresh.errors, []);
    } finally {
      await empty.stop();
    }
  });
});
