// Compiled with `tsc --strict --noEmit` against the generated package by scripts/test-sdk-wasm.sh:
// the TypeScript definitions must describe the JS API as documented.
import init, {
  Tracewire, TracedWebSocket, type TracewireConfig, type TracewireLogLevel, type TracewireStats,
} from './pkg/tracewire_sdk.js';

await init();
const config: TracewireConfig = {
  endpoint: 'https://collector.example.com',
  serviceName: 'web-app',
  sampleRate: 0.5,
  envelopeUrls: ['wss://*/graphql'],
  payloadFreeUrls: ['wss://market.example.com/*'],
  wsSpansPerType: 20,
  wsRateIntervalMs: 5000,
  wsTraceOneIn: 0,
  propagateToOrigins: ['https://api.example.com'],
  ingestKey: 'key',
  captureConsole: ['error', 'warn'],
};
const tw: Tracewire = Tracewire.start(config);
tw.instrumentWebSockets();
tw.instrumentFetch();
const span = tw.startSpan('checkout', { items: 3, express: true, coupon: 'none' });
span.setAttribute('step', 'pay');
const traceparent: string = span.traceparent;
span.end();
tw.startSpan('no attributes').end();
tw.event('clicked');
tw.event('cart.updated', { items: 2 });
tw.log('warn', 'payment retried', { attempt: 2, express: true });
const level: TracewireLogLevel = 'fatal';
tw.log(level, 'no attributes');
// @ts-expect-error levels are the six names
tw.log('warning', 'not a level');
// @ts-expect-error only console methods can be captured
const notCaptured: TracewireConfig = { endpoint: 'x', serviceName: 'y', captureConsole: ['table'] };
console.log(notCaptured);
tw.setUser('user-42');
tw.setUser(null);
const session: string = tw.sessionId();
const stats: TracewireStats = tw.stats();
const dropped: number = stats.droppedQueueFull + stats.droppedExportFailed;
const ws = new TracedWebSocket('wss://example.com/live', ['v1']);
ws.onmessage = (e: MessageEvent) => console.log(e.data, traceparent, session, dropped);
ws.send(JSON.stringify({ type: 'hello' }));
const state: number = ws.readyState + ws.bufferedAmount;
const raw: WebSocket = ws.socket;
console.log(state, raw.url);
await tw.flush();
tw.uninstrumentWebSockets();
tw.uninstrumentFetch();
await tw.shutdown();

// @ts-expect-error unknown config fields are type errors
Tracewire.start({ endpoint: 'x', serviceName: 'y', sampleRat: 1 });
// @ts-expect-error serviceName is required
Tracewire.start({ endpoint: 'x' });
