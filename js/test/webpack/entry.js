// A page bundled by webpack 5 with no loaders or plugins: the package's wasm must be found and
// instantiated, and a second init() must return the same client.
import { init } from 'tracewire';

const params = new URLSearchParams(window.location.search);
const config = { endpoint: params.get('collector'), serviceName: 'webpack-app', flushIntervalMs: 500 };

init(config).then(
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
