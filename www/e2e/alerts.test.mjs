// Browser test of the Alerts page: a real collector with a rules file evaluating every 200 ms,
// filled with a poll storm (the SDK's request-rate records of one session) and slow WebSocket
// exchanges, driven in headless Chromium. The page lists the rules firing first with their value
// and last change, the active alerts with links to the session and the slowest trace behind
// them, the history, and silences a rule through the API with its button. Screenshots land in
// www/e2e-artifacts/.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BROWSER_RESOURCE, eventually, exchange, getJson, launchBrowser, newPage, postLogs, screenshot, sendExchanges, startCollector } from './harness.mjs';

const SESSION = 'sess-alerts-storm';
const ROUTE = 'GET /api/agents';
const RULES = `
[[rules]]
name = "quiet"
condition = { kind = "hot_endpoint", route = "${ROUTE}" }
window = "1m"
threshold = 1000000
channels = []

[[rules]]
name = "poll storm"
condition = { kind = "hot_endpoint", route = "${ROUTE}", per_session = true }
window = "1m"
threshold = 5
severity = "critical"
summary = "{{route}} at {{value}}/s from session {{session_id}}"
channels = []

[[rules]]
name = "slow replies"
condition = { kind = "ws_latency", field = "total", quantile = "p95" }
window = "1h"
threshold = 1
summary = "WebSocket p95 {{value}} ms"
channels = []
`;

let collector;
let browser;
const str = (key, value) => ({ key, value: { stringValue: String(value) } });
const ns = (ms) => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-ui-alerts-rules-'));
  const rules = join(dir, 'rules.toml');
  writeFileSync(rules, RULES);
  collector = await startCollector('alerts', { args: ['--rules', rules, '--alert-interval', '200ms'] });
  const now = Date.now();
  // 600 requests to one route from one session: 10/s over the minute.
  await postLogs(collector.otlp, BROWSER_RESOURCE, [
    {
      timeUnixNano: ns(now), severityNumber: 9, eventName: 'http.client.request_rate', body: { stringValue: 'http.client.request_rate' },
      attributes: [str('http.route', ROUTE), { key: 'http.client.request.count', value: { intValue: '600' } }, str('session.id', SESSION)],
    },
  ]);
  await sendExchanges(collector.otlp, [0, 1, 2].map((i) => exchange({ t0: now - 60_000 + i * 5_000, serverMs: 40 + i * 20 })));
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

describe('alerts', () => {
  test('lists rules firing first with value and last change, the alerts with their session and trace, the history, and silences a rule', async () => {
    const overview = await eventually(async () => {
      const { body } = await getJson(`${collector.api}/api/alerts`);
      return body.rules?.filter((r) => r.state === 'firing').length === 2 && body.alerts.length === 2 && body;
    }, 15_000, 'two firing rules');
    browser = await launchBrowser();
    const page = await newPage(browser);
    await page.goto(`${collector.api}/alerts`);
    const rules = page.getByRole('table', { name: 'Alert rules' });
    await rules.locator('tbody tr[data-state="firing"]').nth(1).waitFor();
    const rows = await rules.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => ({ rule: tr.dataset.rule, state: tr.dataset.state, cells: [...tr.children].map((c) => c.textContent.trim()) })));
    // Firing first, in the API's order; the quiet rule last.
    assert.deepEqual(rows.map((r) => [r.rule, r.state]), [...overview.rules.filter((r) => r.state === 'firing').map((r) => [r.name, 'firing']), ['quiet', 'inactive']]);
    const storm = rows.find((r) => r.rule === 'poll storm');
    assert.equal(storm.cells[1], 'firing');
    assert.equal(storm.cells[2], '10');
    assert.equal(storm.cells[3], 'hot_endpoint > 5 over 1m');
    assert.equal(storm.cells[4], 'critical');
    assert.match(storm.cells[5], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
    const quiet = rows.find((r) => r.rule === 'quiet');
    assert.equal(quiet.cells[1], 'inactive');
    assert.equal(quiet.cells[2], '10');

    // The alerts behind the rules: the storm's session, the slow replies' slowest trace.
    const alerts = page.getByRole('table', { name: 'Active alerts' });
    const stormAlert = alerts.locator('tr[data-rule="poll storm"]');
    assert.equal(await stormAlert.locator('td').nth(2).textContent(), `${ROUTE} at 10/s from session ${SESSION}`);
    const slow = overview.alerts.find((a) => a.rule === 'slow replies');
    assert.ok(slow.trace_id, JSON.stringify(slow));
    const traceLink = alerts.locator('tr[data-rule="slow replies"]').getByRole('link', { name: 'Trace' });
    assert.equal(await traceLink.getAttribute('href'), `/trace/${slow.trace_id}`);

    // The history lists both firings.
    const history = page.getByRole('table', { name: 'Alert history' });
    await history.locator('tr[data-rule="poll storm"][data-to="firing"]').waitFor();
    assert.equal((await history.locator('tr[data-rule="poll storm"] td').nth(2).textContent()).trim(), 'inactive → firing');
    await screenshot(page, 'alerts');

    // The Silence button creates a silence through the API for the chosen duration.
    await page.getByLabel('Silence for').selectOption('2h');
    const posted = page.waitForResponse((r) => r.url().endsWith('/api/alerts/silences') && r.request().method() === 'POST');
    await rules.locator('tr[data-rule="poll storm"]').getByRole('button', { name: 'Silence poll storm for 2h' }).click();
    assert.equal((await posted).status(), 201);
    const { body } = await getJson(`${collector.api}/api/alerts/silences`);
    assert.equal(body.silences.length, 1);
    const silence = body.silences[0];
    assert.deepEqual(silence.matchers, [{ name: 'alertname', value: 'poll storm', equal: true }]);
    const hours = Number(BigInt(silence.ends_unix_nano) - BigInt(silence.starts_unix_nano)) / 3.6e12;
    assert.equal(hours, 2);
    await page.getByRole('status').filter({ hasText: 'Silenced "poll storm" for 2h.' }).waitFor();
    await page.getByRole('table', { name: 'Silences' }).locator(`tr[data-silence="${silence.id}"]`).waitFor();
    await rules.locator('tr[data-rule="poll storm"] .badge', { hasText: 'silenced' }).waitFor();
    await screenshot(page, 'alerts-silenced');

    // The session link opens the session page.
    await stormAlert.getByRole('link', { name: `Session ${SESSION}` }).click();
    await page.waitForURL(`**/sessions/${SESSION}`);
    assert.deepEqual(page.errors, []);
  });

  test('?rule= narrows the history to one rule, and ending a silence removes it', async () => {
    const page = await newPage(browser);
    await page.goto(`${collector.api}/alerts?rule=slow%20replies`);
    const history = page.getByRole('table', { name: 'Alert history' });
    await history.locator('tbody tr').first().waitFor();
    const ruleNames = await history.locator('tbody tr').evaluateAll((trs) => [...new Set(trs.map((tr) => tr.dataset.rule))]);
    assert.deepEqual(ruleNames, ['slow replies']);
    await page.getByRole('heading', { name: 'History of slow replies' }).waitFor();
    const silences = page.getByRole('table', { name: 'Silences' });
    await silences.getByRole('button', { name: 'End' }).click();
    await page.getByText('No active silences.').waitFor();
    const { body } = await getJson(`${collector.api}/api/alerts/silences`);
    assert.deepEqual(body.silences, []);
    assert.deepEqual(page.errors, []);
  });
});
