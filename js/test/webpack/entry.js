// A page bundled by webpack 5 with no loaders or plugins: the package's wasm must be found and
// instantiated, and a second init() must return the same client. The package is the SDK's
// default build, so a first init() asking for XHR tracing must reject (that needs the `xhr`
// cargo feature) without starting anything, and the next init() then starts the client.
import { init } from 'tracewire';

const params = new URLSearchParams(window.location.search);
const config = { endpoint: params.get('collector'), serviceName: 'webpack-app', flushIntervalMs: 500 };

async function start() {
  try {
    await init({ ...config, instrumentXhr: true });
    document.body.dataset.xhr = 'started';
  } catch (error) {
    document.body.dataset.xhr = String(error);
  }
  return init(config);
}

start().then(
  async (tw) => {
    const again = await init({ endpoint: 'http://ignored.invalid', serviceName: 'ignored' });
    const span = tw.startSpan('webpack.loaded', { 'app.same_client': again === tw });
    span.end();
    await tw.flush();
    document.body.dataset.session = tw.sessionId();
    document.body.dataset.status = 'ready';
  },
  (error) => {
    document.body.dataset.status = `failed: ${error}`;
  },
);
