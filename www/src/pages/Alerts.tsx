// Alerts: every rule with its current value, state and last change (firing first), the alerts
// that are not inactive with links to the trace or session behind them, the active silences, and
// the history of transitions. A rule's Silence button creates a silence through the API for the
// chosen duration; `?rule=NAME` (the links in notifications) highlights one rule and narrows
// the history to it. The page refreshes itself every few seconds.

import { useEffect, useState } from 'preact/hooks';
import { ApiError, sendJson, withQuery, type Alert, type AlertRule, type AlertState, type AlertTransition, type Silence } from '../api';
import { ErrorBox, Link, Loading, useFetch } from '../components/common';
import { formatTime } from '../lib/time';

/** How often the page reads the alerts again. */
const REFRESH_MS = 5_000;
const DURATIONS = ['30m', '1h', '2h', '8h', '24h'];

/** A value as the notifications write it: at most two decimals, "no data" when missing. */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined) return 'no data';
  return String(Math.round(v * 100) / 100);
}

function StateBadge({ state }: { state: AlertState }) {
  return <span class={`badge alert-${state}${state === 'firing' ? ' error' : ''}`}>{state}</span>;
}

function Labels({ labels, skip = [] }: { labels: Record<string, string>; skip?: string[] }) {
  const shown = Object.entries(labels).filter(([k, v]) => v !== '' && !skip.includes(k));
  return (
    <span class="labels">
      {shown.map(([k, v]) => (
        <code class="label">
          {k}={v}
        </code>
      ))}
    </span>
  );
}

/** Links to the slowest trace and the hot session behind an alert or a transition. */
function Behind({ trace, session }: { trace: string | null; session: string | null }) {
  return (
    <>
      {trace && <Link href={`/trace/${encodeURIComponent(trace)}`}>Trace</Link>}
      {trace && session && ' · '}
      {session && <Link href={`/sessions/${encodeURIComponent(session)}`}>Session {session}</Link>}
    </>
  );
}

export function AlertsPage({ search }: { search: string }) {
  const focus = new URLSearchParams(search).get('rule') ?? '';
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const overview = useFetch<{ rules: AlertRule[]; alerts: Alert[] }>('/api/alerts', tick);
  const history = useFetch<{ history: AlertTransition[] }>(withQuery('/api/alerts/history', { rule: focus, limit: '100' }), tick);
  const silences = useFetch<{ silences: Silence[] }>('/api/alerts/silences', tick);
  const [duration, setDuration] = useState('1h');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  // Keep the last answer on screen while a refresh loads, so the tables do not flicker.
  const [last, setLast] = useState<{ rules: AlertRule[]; alerts: Alert[] } | null>(null);
  useEffect(() => {
    if (overview.state === 'done') setLast(overview.data);
  }, [overview]);

  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      setMessage({ ok: true, text: done });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof ApiError ? `${e.message} (${e.code})` : String(e) });
    }
    setTick((n) => n + 1);
  };
  const silence = (rule: string) =>
    act(
      () => sendJson('POST', '/api/alerts/silences', { matchers: [{ name: 'alertname', value: rule }], duration, comment: 'from the Alerts page' }),
      `Silenced "${rule}" for ${duration}.`,
    );
  const endSilence = (id: string) => act(() => sendJson('DELETE', `/api/alerts/silences/${encodeURIComponent(id)}`), 'Silence ended.');

  const data = overview.state === 'done' ? overview.data : last;
  const active = silences.state === 'done' ? silences.data.silences : [];
  const silencedRules = new Set(active.flatMap((s) => s.matchers.filter((m) => m.name === 'alertname' && m.equal !== false).map((m) => m.value)));

  return (
    <section class="page alerts-page">
      <header class="page-head">
        <h1>Alerts</h1>
        <div class="tools">
          <label>
            Silence for
            <select value={duration} onChange={(e) => setDuration((e.currentTarget as HTMLSelectElement).value)}>
              {DURATIONS.map((d) => (
                <option value={d}>{d}</option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => setTick((n) => n + 1)}>
            Refresh
          </button>
        </div>
      </header>
      {message && (
        <p role="status" class={message.ok ? 'muted' : 'error-text'}>
          {message.text}
        </p>
      )}
      {!data && overview.state === 'loading' ? (
        <Loading what="alerts" />
      ) : !data && overview.state === 'error' ? (
        <ErrorBox error={overview.error} what="alerts" />
      ) : data && data.rules.length === 0 ? (
        <p class="muted">
          No alert rules. Give the collector a rules file (<code>--rules</code>) or set one with <code>PUT /api/alerts/rules/NAME</code>; see
          docs/alerts.md.
        </p>
      ) : (
        data && (
          <>
            <table class="grid-table alert-rules" aria-label="Alert rules">
              <thead>
                <tr>
                  <th scope="col">Rule</th>
                  <th scope="col">State</th>
                  <th scope="col" class="num">
                    Value
                  </th>
                  <th scope="col">Condition</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Last change</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {data.rules.map((r) => (
                  <tr data-rule={r.name} data-state={r.state} class={`${r.state === 'firing' ? 'has-error' : ''}${r.name === focus ? ' focused' : ''}`}>
                    <th scope="row">
                      <Link href={withQuery('/alerts', { rule: r.name })}>{r.name}</Link>
                      {r.source === 'api' && <span class="badge">API</span>}
                      {silencedRules.has(r.name) && <span class="badge">silenced</span>}
                    </th>
                    <td>
                      <StateBadge state={r.state} />
                    </td>
                    <td class="num">{formatValue(r.value)}</td>
                    <td>
                      {r.condition.kind} {r.op} {formatValue(r.threshold)} over {r.window}
                      {r.for !== '0s' && ` for ${r.for}`}
                    </td>
                    <td>{r.severity}</td>
                    <td>{r.last_change_unix_nano ? formatTime(r.last_change_unix_nano) : 'never evaluated'}</td>
                    <td>
                      <button type="button" onClick={() => silence(r.name)} aria-label={`Silence ${r.name} for ${duration}`}>
                        Silence
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>

            <h2>Active alerts</h2>
            {data.alerts.length === 0 ? (
              <p class="muted">Nothing is firing or pending.</p>
            ) : (
              <table class="grid-table active-alerts" aria-label="Active alerts">
                <thead>
                  <tr>
                    <th scope="col">Rule</th>
                    <th scope="col">State</th>
                    <th scope="col" class="num">
                      Value
                    </th>
                    <th scope="col">Summary</th>
                    <th scope="col">Labels</th>
                    <th scope="col">Since</th>
                    <th scope="col">Behind it</th>
                  </tr>
                </thead>
                <tbody>
                  {data.alerts.map((a) => (
                    <tr data-rule={a.rule} data-state={a.state} class={a.state === 'firing' ? 'has-error' : ''}>
                      <th scope="row">{a.rule}</th>
                      <td>
                        <StateBadge state={a.state} />
                      </td>
                      <td class="num">{formatValue(a.value)}</td>
                      <td>{a.summary}</td>
                      <td>
                        <Labels labels={a.labels} skip={['alertname', 'severity']} />
                      </td>
                      <td>{formatTime(a.since_unix_nano)}</td>
                      <td>
                        <Behind trace={a.trace_id} session={a.session_id} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </>
        )
      )}

      <h2>Silences</h2>
      {active.length === 0 ? (
        <p class="muted">No active silences.</p>
      ) : (
        <table class="grid-table silences" aria-label="Silences">
          <thead>
            <tr>
              <th scope="col">Matchers</th>
              <th scope="col">Ends</th>
              <th scope="col">Comment</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {active.map((s) => (
              <tr data-silence={s.id}>
                <td>
                  {s.matchers.map((m) => (
                    <code class="label">
                      {m.name}
                      {m.equal === false ? '!=' : '='}
                      {m.value}
                    </code>
                  ))}
                </td>
                <td>{formatTime(s.ends_unix_nano)}</td>
                <td>{s.comment}</td>
                <td>
                  <button type="button" onClick={() => endSilence(s.id)}>
                    End
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2>History{focus && ` of ${focus}`}</h2>
      {focus && (
        <p class="small">
          <Link href="/alerts">All rules</Link>
        </p>
      )}
      {history.state === 'error' ? (
        <ErrorBox error={history.error} what="the alert history" />
      ) : history.state === 'done' && history.data.history.length === 0 ? (
        <p class="muted">No transitions yet.</p>
      ) : (
        history.state === 'done' && (
          <table class="grid-table alert-history" aria-label="Alert history">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Rule</th>
                <th scope="col">Change</th>
                <th scope="col" class="num">
                  Value
                </th>
                <th scope="col">Summary</th>
                <th scope="col">Behind it</th>
              </tr>
            </thead>
            <tbody>
              {history.data.history.map((t) => (
                <tr data-rule={t.rule} data-to={t.to}>
                  <td>{formatTime(t.time_unix_nano)}</td>
                  <td>{t.rule}</td>
                  <td>
                    {t.from} → <StateBadge state={t.to} />
                  </td>
                  <td class="num">{formatValue(t.value)}</td>
                  <td>{t.summary}</td>
                  <td>
                    <Behind trace={t.trace_id} session={t.session_id} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      )}
    </section>
  );
}
