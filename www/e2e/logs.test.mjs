// Browser tests of the Logs page: a real collector filled by the OpenTelemetry Python SDK's
// logging handler, by the browser SDK's exception record (with its trace and session) and by a
// few hundred OTLP/JSON lines, driven in headless Chromium. Screenshots land in e2e-artifacts/.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  BROWSER_RESOURCE, eventually, exchange, launchBrowser, newPage, postLogs, screenshot, sendExchanges,
  sendLogsWithPythonSdk, startCollector,
} from './harness.mjs';

let collector;
let browser;
let ex;
const now = Date.now();
const ns = (ms) => `${BigInt(Math.round(ms)) * 1_000_000n}`;
const str = (key, value) => ({ key, value: { stringValue: String(value) } });
const TICKS = 250;

before(async () => {
  collector = await startCollector('logs');
  browser = await launchBrowser();
  await sendLogsWithPythonSdk(collector.otlp);
  // A WebSocket exchange, and the browser SDK's record of an error thrown while handling it.
  ex = exchange({ t0: now - 120_000, sessionId: 'sess-logs-1' });
  await sendExchanges(collector.otlp, [ex]);
  await postLogs(collector.otlp, BROWSER_RESOURCE, [{
    timeUnixNano: ns(now - 119_990), severityNumber: 17, severityText: 'ERROR', eventName: 'exception',
    body: { stringValue: 'TypeError: agent list is undefined' }, traceId: ex.trace, spanId: ex.ids.send,
    attributes: [str('exception.type', 'TypeError'), str('exception.message', 'agent list is undefined'), str('session.id', 'sess-logs-1')],
  }]);
  // Lines a second apart over the last few minutes, for paging.
  await postLogs(collector.otlp, [str('service.name', 'ticker')], Array.from({ length: TICKS }, (_, i) => ({
    timeUnixNano: ns(now - 300_000 + i * 1000), severityNumber: 9, severityText: 'INFO', body: { stringValue: `tick ${i} heartbeat` },
  })));
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

const rows = (page) => page.locator('.log-row');
const summary = (page) => page.locator('.summary').innerText();

describe('logs page', () => {
  test('finds records by text, draws the histogram and keeps the search in the URL', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs`);
    await rows(page).first().waitFor();
    // The Python SDK's lines are there, newest first, with their service and level.
    assert.match(await page.locator('.logs-list').innerText(), /py-worker/);
    const canvas = await page.locator('.histogram canvas').first().boundingBox();
    assert.ok(canvas && canvas.width > 400 && canvas.height > 80, `histogram ${JSON.stringify(canvas)}`);
    await page.fill('input[name=q]', 'timeout retrying');
    await page.click('button[type=submit]');
    await page.waitForURL(/q=timeout\+retrying/);
    await eventually(async () => (await rows(page).count()) === 1, 10_000, 'one record');
    assert.match(await rows(page).first().innerText(), /py-api[\s\S]*agent coder: Timeout after 5s, retrying/);
    await page.reload();
    await eventually(async () => (await rows(page).count()) === 1, 10_000, 'one record after reload');
    assert.equal(await page.inputValue('input[name=q]'), 'timeout retrying');
    await screenshot(page, 'logs-search');
    assert.deepEqual(page.errors, []);
  });

  test('severity and service filters, the syntax under its toggle, and a malformed query says where', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs`);
    await rows(page).first().waitFor();
    const help = page.locator('#q-help');
    assert.equal(await help.isVisible(), false);
    await page.getByRole('button', { name: 'Syntax' }).click();
    assert.match(await help.innerText(), /"connection reset"/);
    assert.equal(await page.getByRole('button', { name: 'Hide syntax' }).getAttribute('aria-expanded'), 'true');
    await page.check('input[name=severity][value=error]');
    await page.fill('input[name=service]', 'py-worker');
    await page.click('button[type=submit]');
    await page.waitForURL(/severity=error/);
    assert.match(page.url(), /service=py-worker/);
    await eventually(async () => (await rows(page).count()) === 1, 10_000, 'the worker error');
    assert.match(await rows(page).first().innerText(), /run_agent failed: connection reset by peer/);
    await page.fill('input[name=q]', 'ok "open');
    await page.click('button[type=submit]');
    const error = page.locator('.error-box');
    await error.waitFor();
    assert.match(await error.innerText(), /character 4/);
    assert.match(await error.innerText(), /invalid_q/);
    await screenshot(page, 'logs-error');
  });

  test('scrolling down loads older pages until every record is there', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs?q=heartbeat`);
    await rows(page).first().waitFor();
    assert.match(await summary(page), /^100 records/);
    const list = page.locator('.logs-list');
    await eventually(async () => {
      await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
      return /^250 records.*all loaded/.test(await summary(page));
    }, 15_000, 'all 250 records');
    // The last page arrived below the view; the oldest record is at the very bottom.
    await eventually(async () => {
      await list.evaluate((el) => (el.scrollTop = el.scrollHeight));
      return /tick 0 heartbeat/.test(await list.innerText());
    }, 10_000, 'the oldest record in view at the bottom');
    // Only the rows in view are in the DOM.
    assert.ok((await rows(page).count()) < 60, `${await rows(page).count()} rows rendered`);
    assert.deepEqual(page.errors, []);
  });

  test('a record expands to its attributes, with links to its trace and its session', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs?q=TypeError`);
    const row = rows(page).filter({ hasText: 'TypeError: agent list is undefined' });
    await row.waitFor();
    await row.locator('.log-summary').click();
    const detail = row.locator('.log-detail');
    await detail.waitFor();
    assert.match(await detail.innerText(), /exception\.type\s+TypeError/);
    assert.equal(await row.locator('.log-summary').getAttribute('aria-expanded'), 'true');
    // The row grew to hold its details; the next row moved down with it.
    const box = await row.boundingBox();
    assert.ok(box.height > 120, `expanded row ${box.height}px`);
    assert.equal(
      await detail.getByRole('link', { name: /Open session sess-logs-1/ }).getAttribute('href'),
      '/sessions/sess-logs-1',
    );
    await screenshot(page, 'logs-expanded');
    await detail.getByRole('link', { name: /Open trace/ }).click();
    await page.waitForURL(new RegExp(`/trace/${ex.trace}\\?span=${ex.ids.send}`));
    await page.locator('.wf-row').first().waitFor();
    // And the trace links back to its logs.
    await page.getByRole('link', { name: 'Logs of this trace' }).click();
    await page.waitForURL(new RegExp(`/logs\\?trace_id=${ex.trace}`));
    await eventually(async () => (await rows(page).count()) === 1, 10_000, 'the trace\'s one record');
    assert.match(await rows(page).first().innerText(), /TypeError: agent list is undefined/);
    // The session view links to its logs too.
    await page.goto(`${collector.api}/sessions/sess-logs-1`);
    await page.getByRole('link', { name: 'its logs' }).click();
    await page.waitForURL(/\/logs\?session_id=sess-logs-1/);
    await rows(page).filter({ hasText: 'TypeError' }).waitFor();
    assert.deepEqual(page.errors, []);
  });

  test('dragging across the histogram zooms the window', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs?q=heartbeat&since=15m`);
    await rows(page).first().waitFor();
    const over = page.locator('.histogram .u-over');
    await over.waitFor();
    const b = await over.boundingBox();
    // The lines are in the last five minutes: drag over about 4.5 to 0.75 minutes ago.
    await page.mouse.move(b.x + b.width * 0.7, b.y + b.height / 2);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width * 0.95, b.y + b.height / 2, { steps: 8 });
    await page.mouse.up();
    await page.waitForURL(/since=&start=\d+&end=\d+/);
    const q = new URL(page.url()).searchParams;
    const span = (BigInt(q.get('end')) - BigInt(q.get('start'))) / 1_000_000_000n;
    // A quarter of 15 minutes.
    assert.ok(span > 180n && span < 270n, `zoomed to ${span} s`);
    await rows(page).first().waitFor();
    await screenshot(page, 'logs-zoomed');
    assert.deepEqual(page.errors, []);
  });

  test('live mode shows a new record as it is stored', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs?q=deploy`);
    await page.getByRole('heading', { name: 'No log records match' }).waitFor();
    await page.getByRole('button', { name: 'Live' }).click();
    await page.waitForURL(/live=1/);
    await page.getByText('Streaming new records').waitFor();
    const sent = Date.now();
    await postLogs(collector.otlp, [str('service.name', 'deployer')], [{
      timeUnixNano: ns(sent), severityNumber: 13, severityText: 'WARN', body: { stringValue: `deploy ${sent} started` },
    }]);
    await rows(page).filter({ hasText: `deploy ${sent} started` }).waitFor({ timeout: 2_000 });
    console.log(`logs live mode: record visible ${Date.now() - sent} ms after the POST was sent`);
    await screenshot(page, 'logs-live');
    assert.deepEqual(page.errors, []);
  });

  test('works with the keyboard alone: search, open a record, zoom the histogram', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/logs`);
    await rows(page).first().waitFor();
    // From the page's main region, Tab reaches the search box first.
    await page.locator('#main').focus();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'q');
    await page.keyboard.type('heartbeat');
    await page.keyboard.press('Enter');
    await page.waitForURL(/q=heartbeat/);
    await rows(page).first().waitFor();
    // Tab on to the first record; Enter opens it.
    const first = rows(page).first().locator('.log-summary');
    for (let i = 0; i < 40 && !(await first.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press('Tab');
    }
    assert.ok(await first.evaluate((el) => el === document.activeElement), 'Tab reaches the first record');
    await page.keyboard.press('Enter');
    await rows(page).first().locator('.log-detail').waitFor();
    // The histogram: focus it, arrow to a step, Enter zooms to it.
    await page.locator('.histogram .chart-box').focus();
    await page.keyboard.press('End');
    assert.match(await page.locator('.histogram .chart-said').innerText(), / to .*: \d+ info|no records/);
    await page.keyboard.press('Enter');
    await page.waitForURL(/since=&start=\d+&end=\d+/);
    assert.deepEqual(page.errors, []);
  });
});
