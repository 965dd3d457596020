// Live tail: spans as the collector stores them, over the `/api/live` WebSocket. Pausing keeps
// receiving (and counting) but freezes the list, so a row can be read and clicked.

import { useEffect, useRef, useState } from 'preact/hooks';
import type { LiveSpan, Service } from '../api';
import { liveProtocols } from '../auth';
import { FirstSpanHint, Link, useFetch } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import { serviceColor } from '../lib/colors';
import { formatDuration, formatTime } from '../lib/time';
import { navigate } from '../router';

const ROW = 28;
/** Rows kept in memory; older ones fall off the end. */
export const LIVE_CAP = 10_000;

type Status = 'connecting' | 'open' | 'closed';

export function LivePage({ search }: { search: string }) {
  const service = new URLSearchParams(search).get('service') ?? '';
  const services = useFetch<{ services: Service[] }>('/api/services');
  const [rows, setRows] = useState<LiveSpan[]>([]);
  const [paused, setPaused] = useState(false);
  const [pending, setPending] = useState(0);
  const [status, setStatus] = useState<Status>('connecting');
  const buffer = useRef<LiveSpan[]>([]);
  const pausedRef = useRef(false);
  pausedRef.current = paused;

  useEffect(() => {
    let ws: WebSocket | null = null;
    let stopped = false;
    let retry = 500;
    let flushTimer = 0;
    setRows([]);
    buffer.current = [];
    // Batch renders: at thousands of spans per second, one render per frame is plenty.
    const flush = () => {
      flushTimer = 0;
      if (pausedRef.current) {
        setPending(buffer.current.length);
        return;
      }
      const fresh = buffer.current.reverse();
      buffer.current = [];
      setRows((old) => fresh.concat(old).slice(0, LIVE_CAP));
    };
    const connect = () => {
      setStatus('connecting');
      const url = new URL('/api/live', location.href);
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      if (service) url.searchParams.set('service', service);
      ws = new WebSocket(url, liveProtocols());
      ws.onopen = () => {
        retry = 500;
        setStatus('open');
      };
      ws.onmessage = (m) => {
        try {
          buffer.current.push(JSON.parse(String(m.data)) as LiveSpan);
          if (buffer.current.length > LIVE_CAP) buffer.current.splice(0, buffer.current.length - LIVE_CAP);
        } catch {
          return;
        }
        if (!flushTimer) flushTimer = requestAnimationFrame(flush);
      };
      ws.onclose = () => {
        setStatus('closed');
        if (!stopped) setTimeout(connect, (retry = Math.min(retry * 2, 10_000)));
      };
    };
    connect();
    return () => {
      stopped = true;
      if (flushTimer) cancelAnimationFrame(flushTimer);
      ws?.close();
    };
  }, [service]);

  const resume = () => {
    setPaused(false);
    pausedRef.current = false;
    const fresh = buffer.current.reverse();
    buffer.current = [];
    setPending(0);
    setRows((old) => fresh.concat(old).slice(0, LIVE_CAP));
  };

  return (
    <section class="page live-page">
      <header class="page-head">
        <h1>Live tail</h1>
        <div class="tools">
          <label>
            Service
            <select
              value={service}
              onChange={(e) => {
                const v = (e.currentTarget as HTMLSelectElement).value;
                navigate(v ? `/live?service=${encodeURIComponent(v)}` : '/live');
              }}
            >
              <option value="">All services</option>
              {services.state === 'done' &&
                services.data.services.map((s) => <option value={s.name}>{s.name}</option>)}
              {service && services.state === 'done' && !services.data.services.some((s) => s.name === service) && (
                <option value={service}>{service}</option>
              )}
            </select>
          </label>
          <button type="button" class="primary" aria-pressed={paused} onClick={() => (paused ? resume() : setPaused(true))}>
            {paused ? `Resume${pending ? ` (${pending} new)` : ''}` : 'Pause'}
          </button>
          <button type="button" onClick={() => setRows([])}>
            Clear
          </button>
          <span class={`status ${status}`} role="status">
            {status === 'open' ? 'Connected' : status === 'connecting' ? 'Connecting…' : 'Disconnected, retrying…'}
          </span>
        </div>
      </header>
      {rows.length === 0 ? (
        services.state === 'done' && services.data.services.length === 0 ? (
          <FirstSpanHint>
            <h2>Waiting for the first span</h2>
          </FirstSpanHint>
        ) : (
          <div class="empty">
            <h2>Waiting for spans{service ? ` from ${service}` : ''}…</h2>
            <p>New spans appear here as the collector stores them. Browsers send in batches, so allow a few seconds.</p>
          </div>
        )
      ) : (
        <>
          <div class="table-head live-cols" role="row">
            <span role="columnheader">Start</span>
            <span role="columnheader">Service</span>
            <span role="columnheader">Span</span>
            <span role="columnheader" class="num">
              Duration
            </span>
          </div>
          <VirtualList
            class="results live-list"
            count={rows.length}
            rowHeight={ROW}
            rowRole="listitem"
            outer={{ role: 'list', 'aria-label': 'Live spans, newest first' }}
            renderRow={(i) => {
              const s = rows[i];
              return (
                <Link
                  href={`/trace/${s.trace_id}?span=${s.span_id}`}
                  class={`trace-row live-cols${s.status_code === 'Error' ? ' has-error' : ''}`}
                 
                >
                  <span class="mono">{formatTime(s.start_time_unix_nano)}</span>
                  <span class="ellipsis">
                    <span class="dot" style={{ background: serviceColor(s.service_name) }} aria-hidden="true" />
                    {s.service_name}
                    <span class={`src ${s.source}`}>{s.source === 'browser' ? 'web' : 'srv'}</span>
                  </span>
                  <span class="ellipsis">
                    {s.name} <span class="muted small">{s.kind}</span>
                    {s.status_code === 'Error' && <span class="badge error">error</span>}
                  </span>
                  <span class="num">{formatDuration(s.duration_ns)}</span>
                </Link>
              );
            }}
          />
          <p class="muted small">
            {rows.length} span{rows.length === 1 ? '' : 's'} shown (newest first, up to {LIVE_CAP.toLocaleString()}).
          </p>
        </>
      )}
    </section>
  );
}
