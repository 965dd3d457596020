// UI benchmark (not a test): fills a release collector with a million spans (bench/fill.py,
// OTLP/protobuf), then measures, for every page, the API answers it needs (median of 5) and the
// time from navigation until the page shows its data in Chromium (median of 3).
//
// Usage: node bench/bench.mjs [--spans 1000000] [--dir bench/results/db] [--fresh-logs]
// The SQLite file is kept, so a second run skips the fill. Results: bench/results/latest.md.

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, newPage, startCollector, WWW, ROOT } from '../e2e/harness.mjs';

const arg = (name, d) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : d;
};
const SPANS = Number(arg('spans', 1_000_000));
const DIR = arg('dir', join(WWW, 'bench/results/db'));
const BIN = process.env.TRACEWIRE_COLLECTOR ?? join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'release/tracewire-collector');
mkdirSync(DIR, { recursive: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

const collector = await startCollector('bench', { dir: DIR, binary: BIN });
try {
  const stored = async () =>
    (await (await fetch(`${collector.api}/api/services`)).json()).services.reduce((n, s) => n + s.span_count, 0);
  let have = await stored();
  if (process.argv.includes('--fresh-logs')) {
    // A kept database's request-rate logs are older than the hot-endpoint window: add new ones.
    execFileSync('python3', [join(WWW, 'bench/fill.py'), collector.otlp, '0'], { stdio: 'inherit' });
  }
  if (have < SPANS) {
    console.error(`filling: ${have} spans stored, ${SPANS} wanted`);
    const t = Date.now();
    execFileSync('python3', [join(WWW, 'bench/fill.py'), collector.otlp, String(SPANS - have)], { stdio: 'inherit' });
    have = await stored();
    console.error(`filled to ${have} spans in ${((Date.now() - t) / 1000).toFixed(0)} s (${Math.round(SPANS / ((Date.now() - t) / 1000))} spans/s)`);
  }

  const nowNs = () => `${BigInt(Date.now()) * 1_000_000n}`;
  const hourAgo = () => `${BigInt(Date.now() - 3_600_000) * 1_000_000n}`;
  const lastHour = () => {
    const end = BigInt(Math.ceil(Date.now() / 60_000) * 60_000) * 1_000_000n;
    return `start=${end - 3_600_000_000_000n}&end=${end}`;
  };
  const time = async (path, note = '') => {
    const runs = [];
    let body;
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const res = await fetch(`${collector.api}${path}`);
      body = await res.text();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body}`);
      runs.push(performance.now() - t);
    }
    return { path, note, median: median(runs), max: Math.max(...runs), bytes: body.length, body: JSON.parse(body) };
  };

  const search = await time(`/api/traces?start=${hourAgo()}&limit=100`);
  const traceId = search.body.traces[0].trace_id;
  const session = 's-00042';
  const api = [
    search,
    await time(`/api/traces?service=agent-backend&status=error&start=${hourAgo()}&limit=100`),
    await time(`/api/traces?min_duration_ms=500&start=${hourAgo()}&limit=100`),
    await time(`/api/traces?name=ws.send%20chat&limit=1000`),
    await time(`/api/services`),
    await time(`/api/traces/${traceId}`),
    // The dashboard's requests for its default hour, which (like the page) ends on a whole
    // minute and so is answered from the per-minute rollups; then one that is not.
    await time(`/api/ws/latency?${lastHour()}&step=60000000000`),
    await time(`/api/ws/rates?${lastHour()}&step=60000000000`),
    await time(`/api/ws/message-types?${lastHour()}`),
    await time(`/api/ws/latency?start=${hourAgo()}&end=${nowNs()}&step=60000000000`, 'not on whole minutes: every round trip read'),
    await time(`/api/ws/roundtrips?start=${hourAgo()}&end=${nowNs()}&limit=200`),
    await time(`/api/endpoints/hot?window=5m`),
    await time(`/api/sessions/${session}`),
  ];

  const browser = await launchBrowser();
  const browserVersion = browser.version();
  const pages = [
    { page: 'Search', url: '/', ready: '.trace-row' },
    { page: 'Search (errors of one service)', url: '/?service=agent-backend&status=error', ready: '.trace-row' },
    { page: 'Trace', url: `/trace/${traceId}`, ready: '.wf-row' },
    { page: 'WebSocket dashboard', url: '/ws', ready: 'table[aria-label="Message types"] tbody tr', also: '.chart canvas' },
    // 15 minutes in 15 s steps is read from the round trips; 24 hours adds up 1,440 minutes.
    { page: 'WebSocket dashboard, last 15 min', url: '/ws?range=15m', ready: 'table[aria-label="Message types"] tbody tr', also: '.chart canvas' },
    { page: 'WebSocket dashboard, last 24 h', url: '/ws?range=24h', ready: 'table[aria-label="Message types"] tbody tr', also: '.chart canvas' },
    { page: 'Session', url: `/sessions/${session}`, ready: '.timeline rect.mark' },
    { page: 'Live tail (connect)', url: '/live', ready: '.status.open' },
  ];
  const render = [];
  for (const p of pages) {
    const runs = [];
    for (let i = 0; i < 3; i++) {
      const page = await newPage(browser);
      const t = Date.now();
      await page.goto(`${collector.api}${p.url}`);
      // Checked every animation frame: a locator's waitFor backs off to polling every 500 ms,
      // which would add up to half a second to what is measured.
      await page.waitForFunction((sels) => sels.every((sel) => document.querySelector(sel)), [p.ready, p.also].filter(Boolean), {
        polling: 'raf',
        timeout: 60_000,
      });
      runs.push(Date.now() - t);
      if (page.errors.length) throw new Error(`${p.page}: ${page.errors}`);
      await page.context().close();
    }
    render.push({ ...p, median: median(runs), max: Math.max(...runs) });
  }
  await browser.close();

  const lines = [
    `# UI benchmark: ${have.toLocaleString('en')} spans in SQLite (release collector)`,
    '',
    `${new Date().toISOString()}, ${process.platform}, Chromium ${browserVersion}`,
    '',
    '| API request | median | max | bytes |',
    '|---|---|---|---|',
    ...api.map((a) => `| \`${a.path.replace(/\d{19}/g, '…')}\`${a.note ? ` (${a.note})` : ''} | ${ms(a.median)} | ${ms(a.max)} | ${a.bytes} |`),
    '',
    '| page (navigation until its data shows) | median | max |',
    '|---|---|---|',
    ...render.map((r) => `| ${r.page} | ${ms(r.median)} | ${ms(r.max)} |`),
    '',
  ];
  mkdirSync(join(WWW, 'bench/results'), { recursive: true });
  writeFileSync(join(WWW, 'bench/results/latest.md'), lines.join('\n'));
  console.log(lines.join('\n'));
} finally {
  await collector.stop();
}
