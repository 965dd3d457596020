// Small shared pieces: in-app links, copy buttons, loading and error states, the first-span hint.

import type { AnchorHTMLAttributes, ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, getJson } from '../api';
import { onLinkClick } from '../router';

/** An in-app link: a real `<a href>` (so it opens in a new tab too) that navigates in place. */
export function Link(props: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { href, ...rest } = props;
  return <a {...rest} href={href} onClick={(e) => onLinkClick(e as unknown as MouseEvent, href)} />;
}

/** Copies `text` to the clipboard, with a fallback for pages that are not a secure context. */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Plain-http origins other than localhost have no async clipboard.
  }
  const area = document.createElement('textarea');
  area.value = text;
  document.body.appendChild(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      class="copy"
      aria-label={`Copy ${label}`}
      title={`Copy ${label}`}
      onClick={async () => {
        await copyText(text);
        setDone(true);
        setTimeout(() => setDone(false), 1200);
      }}
    >
      {done ? 'Copied' : 'Copy'}
    </button>
  );
}

/** An id in monospace with its copy button. */
export function Id({ value, label }: { value: string; label: string }) {
  return (
    <span class="id">
      <code>{value}</code> <CopyButton text={value} label={label} />
    </span>
  );
}

export type Fetched<T> =
  | { state: 'loading' }
  | { state: 'error'; error: ApiError }
  | { state: 'done'; data: T; ms: number };

/** GETs `url` whenever it changes (null: nothing to load); older answers are cancelled. */
export function useFetch<T>(url: string | null, reload = 0): Fetched<T> {
  const [result, setResult] = useState<Fetched<T>>({ state: 'loading' });
  useEffect(() => {
    if (url === null) return;
    const ctl = new AbortController();
    const t0 = performance.now();
    setResult({ state: 'loading' });
    getJson<T>(url, ctl.signal).then(
      (data) => setResult({ state: 'done', data, ms: performance.now() - t0 }),
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        setResult({
          state: 'error',
          error: e instanceof ApiError ? e : new ApiError(0, 'client', String(e)),
        });
      },
    );
    return () => ctl.abort();
  }, [url, reload]);
  return result;
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="muted" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorBox({ error, what }: { error: ApiError; what: string }) {
  // The collector's fallback names API paths it does not serve; an older collector lacks newer pages' endpoints.
  const missing = error.code === 'unknown_endpoint';
  return (
    <div class="error-box" role="alert">
      <strong>Could not load {what}.</strong> {error.message} <code>{error.code}</code>
      {missing && (
        <p>
          This collector does not answer this endpoint. It may be older than this page: update and restart
          it.
        </p>
      )}
    </div>
  );
}

/** The OTLP ingest address as seen from this browser: same host, the default ingest port. */
export function otlpGuess(): string {
  return `http://${location.hostname || '127.0.0.1'}:4318`;
}

/** What a new user does next: the one command that stores a first span. */
export function FirstSpanHint({ children }: { children?: ComponentChildren }) {
  const now = BigInt(Date.now()) * 1_000_000n;
  const traceId = '5b8efff798038103d269b633813fc60c';
  const cmd = `curl -s ${otlpGuess()}/v1/traces -H 'content-type: application/json' -d '{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
    "scopeSpans": [{"spans": [{
      "traceId": "${traceId}", "spanId": "eee19b7ec3c1b174",
      "name": "GET /cart", "kind": 2,
      "startTimeUnixNano": "${now}", "endTimeUnixNano": "${now + 250_000_000n}"
    }]}]
  }]}'`;
  return (
    <div class="empty">
      {children}
      <p>Send a first span to the collector's OTLP/HTTP port (4318 unless you changed <code>--otlp-listen</code>):</p>
      <pre class="snippet">
        <code>{cmd}</code>
      </pre>
      <CopyButton text={cmd} label="command" />
      <p>
        Any OpenTelemetry SDK works the same way: point its OTLP/HTTP exporter at <code>{otlpGuess()}</code>. For
        browser pages, add the Tracewire SDK (<code>sdk-wasm/</code>) and allow the page's origin with{' '}
        <code>--cors-origin</code>. Then reload this page.
      </p>
    </div>
  );
}
