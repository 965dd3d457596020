// Processes for the browser end-to-end tests: the collector, the demo backend, a static server
// for the page, and headless Chromium. Everything binds to 127.0.0.1 on free ports.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const TARGET = process.env.CARGO_TARGET_DIR ?? new URL('../../target', import.meta.url).pathname;
const BIN = (name) => join(TARGET, 'debug', name);

/** Starts a process and resolves with the first match of `pattern` in its output. */
function start(command, args, pattern, stream = 'stderr') {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const found = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${command} did not start:\n${log}`)), 30_000);
    const watch = (chunk) => {
      log += chunk;
      const match = log.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    };
    child.stdout.on('data', stream === 'stdout' ? watch : (c) => { log += c; });
    child.stderr.on('data', stream === 'stderr' ? watch : (c) => { log += c; });
    child.on('exit', (code) => reject(new Error(`${command} exited with ${code}:\n${log}`)));
  });
  return { child, found, log: () => log };
}

const stoppers = [];

/** Stops everything started so far. */
export async function stopAll() {
  while (stoppers.length) await stoppers.pop()();
}

function track(child) {
  stoppers.push(() => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  }));
}

/** A static server for the page and the SDK package; resolves with its origin. */
export async function staticServer(root) {
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };
  const server = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const body = await readFile(join(root, path === '/' ? 'index.html' : path));
      res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  stoppers.push(() => new Promise((resolve) => server.close(resolve)));
  return `http://127.0.0.1:${server.address().port}`;
}

/**
 * A collector on SQLite in a fresh directory that accepts browser telemetry from `origin`; `db`
 * is the SQLite file, for reading what the collector stored (see `storedLogs`).
 */
export async function collector(origin, extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'tw-e2e-'));
  const proc = start(BIN('tracewire-collector'), [
    '--otlp-listen', '127.0.0.1:0', '--otlp-grpc-listen', '127.0.0.1:0', '--api-listen', '127.0.0.1:0',
    '--store', `sqlite:${dir}/tw.db`, '--cors-origin', origin, ...extraArgs,
  ], /query API listening on http:\/\/[0-9.:]+\s/);
  track(proc.child);
  await proc.found;
  const otlp = proc.log().match(/OTLP ingest listening on (http:\/\/[0-9.:]+)/)[1];
  const api = proc.log().match(/query API listening on (http:\/\/[0-9.:]+)/)[1];
  return { otlp, api, db: `${dir}/tw.db`, log: proc.log };
}

/**
 * The log records the collector stored in the SQLite file `db` for browser session `sessionId`,
 * oldest first, read with Python's sqlite3 (stored_logs.py: the collector's own table), polled
 * until `ready(rows)` holds.
 */
const STORED_LOGS = fileURLToPath(new URL('./stored_logs.py', import.meta.url));

export async function storedLogs(db, sessionId, ready, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = spawnSync(process.env.PYTHON ?? 'python3', [STORED_LOGS, db, sessionId], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`reading ${db} failed: ${run.stderr}`);
    const rows = JSON.parse(run.stdout);
    if (ready(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`logs of session ${sessionId} never became ready: ${run.stdout}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The demo's agent-backend exporting to `otlp`, its clock shifted by `offsetMs`. */
export async function agentBackend(otlp, offsetMs = 0) {
  const proc = start(BIN('agent-backend'), [
    '--listen', '127.0.0.1:0', '--otlp-endpoint', otlp, `--clock-offset-ms=${offsetMs}`,
  ], /agent-backend listening on http:\/\/([0-9.:]+)/, 'stdout');
  track(proc.child);
  const [, addr] = await proc.found;
  return { ws: `ws://${addr}/ws`, http: `http://${addr}` };
}

/** Headless Chromium from Debian's package. */
export async function browser() {
  const instance = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  stoppers.push(() => instance.close());
  return instance;
}

/** GETs JSON from the collector's API, retrying until `ready(body)` holds (spans arrive in batches). */
export async function poll(url, ready, timeoutMs = 20_000, headers = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    const response = await fetch(url, { headers });
    last = response.ok ? await response.json() : { status: response.status };
    if (response.ok && ready(last)) return last;
    if (Date.now() > deadline) throw new Error(`${url} never became ready; last answer: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const ROOT = new URL('../..', import.meta.url).pathname;

/** The demo's Python backend (examples/python-backend) exporting to `otlp`. */
export async function pythonBackend(otlp) {
  const proc = start(process.env.PYTHON ?? 'python3', [
    join(ROOT, 'examples/python-backend/app.py'), '--port', '0', '--otlp-endpoint', otlp,
  ], /python-backend listening on http:\/\/([0-9.:]+)/, 'stdout');
  track(proc.child);
  const [, addr] = await proc.found;
  return { ws: `ws://${addr}/ws`, http: `http://${addr}` };
}

/** The directory the demo's wasm-frontend is served from (index.html and the wasm-pack pkg/). */
export const WASM_FRONTEND = join(ROOT, 'examples/wasm-frontend');
