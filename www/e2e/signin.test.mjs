// Browser tests of the UI's sign-in against a collector with an access file: the sign-in screen
// on a 401, a refused token, the token kept for the tab (sessionStorage) and sent on every
// request and on the live tail, and sign-out.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BACKEND_RESOURCE, launchBrowser, newPage, postJson, screenshot, spanId, startCollector, traceId } from './harness.mjs';

const KEY = 'twsk_ui_signin_backend_key_01';
const TOKEN = 'twrt_ui_signin_read_token_01';
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

let collector;
let browser;

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tw-ui-access-'));
  const access = join(dir, 'access.toml');
  writeFileSync(
    access,
    `[[tenants]]\nid = "acme"\n[[tenants.ingest_keys]]\nkey_sha256 = "${sha256(KEY)}"\n` +
      `[[tenants.read_tokens]]\ntoken_sha256 = "${sha256(TOKEN)}"\n`,
  );
  collector = await startCollector('signin', { args: ['--access', access] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await collector?.stop();
});

function span(name) {
  const now = Date.now();
  return {
    resourceSpans: [{ resource: { attributes: BACKEND_RESOURCE }, scopeSpans: [{ spans: [{
      traceId: traceId(), spanId: spanId(), name, kind: 2,
      startTimeUnixNano: `${BigInt(now) * 1_000_000n}`, endTimeUnixNano: `${BigInt(now + 4) * 1_000_000n}`,
    }] }] }],
  };
}

/** Console errors other than the browser's note about the 401 answers this test asks for. */
const unexpected = (page) => page.errors.filter((e) => !/status of 401/.test(e));

test('the UI asks for a token, refuses a wrong one, sends the right one everywhere and signs out', async () => {
  const stored = `signin-${Date.now()}`;
  await postJson(`${collector.otlp}/v1/traces`, span(stored), { 'x-tracewire-key': KEY });

  const page = await newPage(browser);
  await page.goto(`${collector.api}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await screenshot(page, 'signin');

  await page.getByLabel('Read token').fill('twrt_not_granted_anywhere');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'does not grant this token' }).waitFor();

  await page.getByLabel('Read token').fill(TOKEN);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('.trace-row', { hasText: stored }).first().waitFor({ timeout: 10_000 });
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tracewire.token')), TOKEN);
  assert.equal(await page.evaluate(() => JSON.stringify(localStorage)).then((s) => s.includes(TOKEN)), false);

  // A reload keeps the tab signed in; the live tail takes the token as a subprotocol.
  await page.goto(`${collector.api}/live`);
  await page.getByText('Connected', { exact: true }).waitFor({ timeout: 10_000 });
  const live = `live-${Date.now()}`;
  await postJson(`${collector.otlp}/v1/traces`, span(live), { 'x-tracewire-key': KEY });
  await page.locator('.trace-row', { hasText: live }).waitFor({ timeout: 5_000 });
  await screenshot(page, 'signin-live');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tracewire.token')), null);
  await page.goto(`${collector.api}/`);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  assert.deepEqual(unexpected(page), []);
});

test('a new tab of the same browser starts signed out', async () => {
  const context = await browser.newContext();
  const first = await context.newPage();
  await first.goto(`${collector.api}/`);
  await first.getByLabel('Read token').fill(TOKEN);
  await first.getByRole('button', { name: 'Sign in' }).click();
  await first.getByRole('button', { name: 'Sign out' }).waitFor();
  const second = await context.newPage();
  await second.goto(`${collector.api}/`);
  await second.getByRole('heading', { name: 'Sign in' }).waitFor();
  await context.close();
});
