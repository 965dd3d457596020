// The browser SDK against a collector with an access file: a page sends with its `ingestKey`
// (the x-tracewire-key header on fetches, `?key=` on the page-exit requests that cannot carry
// headers), and the same key used by a page of another origin is refused with 403.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { browser, collector, poll, staticServer, stopAll } from './support.mjs';

const PAGE = fileURLToPath(new URL('./page', import.meta.url));
const KEY = 'twpk_e2e_browser_key_0001';
const TOKEN = 'twrt_e2e_read_token_0001';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const sha256 = (s) => createHash('sha256').update(s).digest('hex');

let site;
let foreign;
let tw;
let chrome;

before(async () => {
  site = await staticServer(PAGE);
  foreign = await staticServer(PAGE);
  const access = join(mkdtempSync(join(tmpdir(), 'tw-e2e-access-')), 'access.toml');
  writeFileSync(access, `[[tenants]]\nid = "acme"\n` +
    `[[tenants.ingest_keys]]\nkey = "${KEY}"\norigins = ["${site}"]\n` +
    `[[tenants.read_tokens]]\ntoken_sha256 = "${sha256(TOKEN)}"\n`);
  // CORS lets the foreign page's requests through, so that the key's own origin check answers.
  tw = await collector(foreign, ['--access', access]);
  chrome = await browser();
});

after(stopAll);

/** Opens the page from `origin` with the key; records the requests to the collector (URLs) and
 * their answers: `sent` as the page saw them, `answered` from Chromium's network log, which also
 * has the answers to keepalive fetches and beacons (they may come after the span is stored). */
async function open(origin) {
  const context = await chrome.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  const sent = [];
  // Chromium's own network log: it also shows beacons and keepalive fetches sent as the page goes.
  const urls = [];
  const answered = [];
  const posts = new Set();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.requestWillBeSent', (e) => {
    if (e.request.url.startsWith(tw.otlp) && e.request.method === 'POST') {
      urls.push(e.request.url);
      posts.add(e.requestId);
    }
  });
  cdp.on('Network.responseReceived', (e) => {
    if (posts.has(e.requestId)) answered.push({ url: e.response.url, status: e.response.status });
  });
  context.on('response', (r) => {
    if (r.url().startsWith(tw.otlp) && r.request().method() === 'POST') sent.push({ url: r.url(), status: r.status() });
  });
  await page.goto(`${origin}/index.html?otlp=${encodeURIComponent(tw.otlp)}&key=${KEY}`);
  await page.waitForFunction(() => document.getElementById('status').textContent === 'ready');
  return { context, page, sent, urls, answered };
}

/** Waits (at most 10 s) until `check()` holds; fails with `what()` otherwise. */
async function until(check, what) {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    assert.ok(Date.now() < deadline, what());
    await new Promise((r) => setTimeout(r, 50));
  }
}

const found = (name) => poll(`${tw.api}/api/traces?name=${encodeURIComponent(name)}`, (b) => b.traces.length === 1, 20_000, AUTH);

test('the SDK sends with its ingestKey, and at page exit with ?key=', async () => {
  const { context, page, sent, urls, answered } = await open(site);
  const flushed = `flushed-${Date.now()}`;
  await page.evaluate(async (name) => {
    window.tw.startSpan(name).end();
    await window.tw.flush();
  }, flushed);
  await found(flushed);
  assert.ok(sent.some((r) => r.url === `${tw.otlp}/v1/traces` && r.status === 200), JSON.stringify(sent));

  // The page-exit flush (what pagehide and a hidden page run) puts the key in the URL: keepalive
  // fetches and beacons cannot carry headers.
  const exitFlush = `exit-flush-${Date.now()}`;
  await page.evaluate((name) => {
    window.tw.startSpan(name).end();
    window.tw.flushForPageExit();
  }, exitFlush);
  await found(exitFlush);
  assert.ok(urls.some((u) => u.includes(`?key=${KEY}`)), JSON.stringify(urls));
  await until(() => answered.some((r) => r.url.includes(`?key=${KEY}`) && r.status === 200), () => JSON.stringify(answered));

  // Leaving the page for real: the span goes out as the page unloads, and is stored.
  const exited = `exited-${Date.now()}`;
  await page.evaluate((name) => window.tw.startSpan(name).end(), exited);
  await page.goto('about:blank');
  await found(exited);
  await context.close();
});

test('a page of another origin cannot use the key: 403, and nothing is stored', async () => {
  const { context, page, sent } = await open(foreign);
  const name = `foreign-${Date.now()}`;
  await page.evaluate(async (n) => {
    window.tw.startSpan(n).end();
    await window.tw.flush();
  }, name);
  assert.ok(sent.length > 0 && sent.every((r) => r.status === 403), JSON.stringify(sent));
  await page.goto('about:blank');
  const metrics = await (await fetch(`${tw.api}/metrics`)).text();
  assert.match(metrics, /tracewire_ingest_denied_requests_total\{reason="origin",tenant="acme"\} [1-9]/);
  const search = await (await fetch(`${tw.api}/api/traces?name=${name}`, { headers: AUTH })).json();
  assert.deepEqual(search.traces, []);
  await context.close();
});
