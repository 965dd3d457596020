import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { TracewireProvider } from 'tracewire/react';
import { App } from './App';

// Where to send telemetry and which backend to talk to; the query string overrides the defaults
// so that the browser test can point the page at processes on free ports.
const params = new URLSearchParams(window.location.search);
const collector = params.get('collector') ?? 'http://127.0.0.1:4318';
const backend = params.get('ws') ?? 'ws://127.0.0.1:8090/ws';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root');

createRoot(root).render(
  <StrictMode>
    <TracewireProvider
      config={{ endpoint: collector, serviceName: 'react-app', serviceVersion: '0.1.0', flushIntervalMs: 500 }}
    >
      <BrowserRouter>
        <App backend={backend} />
      </BrowserRouter>
    </TracewireProvider>
  </StrictMode>,
);
