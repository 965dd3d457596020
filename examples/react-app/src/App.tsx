import { useState } from 'react';
import { Link, Route, Routes, useLocation } from 'react-router';
import {
  TracewireErrorBoundary,
  useRouteTracking,
  useTracedWebSocket,
  useTracewire,
  useTracewireStatus,
} from 'tracewire/react';

const STATES = ['connecting', 'open', 'closing', 'closed'];

/** A reply of the agent-backend (examples/agent-backend/src/protocol.rs). */
interface Reply {
  type: string;
  id?: number;
  [key: string]: unknown;
}

export function App({ backend }: { backend: string }) {
  useRouteTracking(useLocation());
  const tw = useTracewire();
  const { status } = useTracewireStatus();
  return (
    <>
      <nav style={{ display: 'flex', gap: '1rem' }}>
        <Link to="/">Chat</Link>
        <Link to="/agents">About agents</Link>
      </nav>
      <p>
        Telemetry: <span data-testid="telemetry">{status}</span>, session{' '}
        <code data-testid="session">{tw ? tw.sessionId() : ''}</code>
      </p>
      <Routes>
        <Route path="/" element={<Chat backend={backend} />} />
        <Route path="/agents" element={<About />} />
      </Routes>
      <TracewireErrorBoundary
        attributes={{ 'app.region': 'widget' }}
        fallback={(error, reset) => (
          <div role="alert" data-testid="crashed">
            The widget crashed: {error instanceof Error ? error.message : String(error)}{' '}
            <button onClick={reset}>Try again</button>
          </div>
        )}
      >
        <Widget />
      </TracewireErrorBoundary>
    </>
  );
}

function Chat({ backend }: { backend: string }) {
  const tw = useTracewire();
  const [replies, setReplies] = useState<Reply[]>([]);
  const [nextId, setNextId] = useState(1);
  const { send, readyState, reconnects } = useTracedWebSocket(backend, {
    onMessage: (event) => {
      if (typeof event.data === 'string') setReplies((list) => [...list, JSON.parse(event.data) as Reply]);
    },
    reconnect: { initialDelayMs: 250, maxDelayMs: 5000 },
  });
  const request = (message: Record<string, unknown>) => {
    if (send({ ...message, id: nextId })) setNextId(nextId + 1);
  };
  return (
    <section>
      <h1>Chat</h1>
      <p>
        Socket: <span data-testid="ready-state">{STATES[readyState] ?? readyState}</span>, reconnects:{' '}
        <span data-testid="reconnects">{reconnects}</span>
      </p>
      <button onClick={() => request({ type: 'list_agents' })}>List agents</button>{' '}
      <button
        onClick={() => {
          tw?.log('info', 'hello sent to the coder agent', { 'ui.action': 'say_hello' });
          request({ type: 'chat', agent_id: 'coder', text: 'hello from React' });
        }}
      >
        Say hello
      </button>
      <ul data-testid="replies">
        {replies.map((reply, i) => (
          <li key={i} data-type={reply.type}>
            {reply.type}
            {reply.id !== undefined ? ` #${reply.id}` : ''}
          </li>
        ))}
      </ul>
    </section>
  );
}

function About() {
  return (
    <section>
      <h1>About agents</h1>
      <p>Each message on the Chat page is one trace, from the click through the backend and back.</p>
    </section>
  );
}

/** Throws while rendering once broken, to show the error boundary's report. */
function Widget() {
  const [broken, setBroken] = useState(false);
  if (broken) throw new Error('widget failed to render');
  return <button onClick={() => setBroken(true)}>Break the widget</button>;
}
