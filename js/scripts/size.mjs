// Prints the package's size as a browser downloads it: the TypeScript layer (both entry points,
// `tracewire` and `tracewire/react`) and the wasm-bindgen glue with its snippets, bundled and
// minified by esbuild as an app's bundler would (React left out: the app has it anyway), each
// output file gzipped at level 9, plus the gzipped .wasm. With `--max BYTES` it fails when the
// total is larger.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const maxAt = process.argv.indexOf('--max');
const max = maxAt > 0 ? Number(process.argv[maxAt + 1]) : Infinity;

const out = mkdtempSync(join(tmpdir(), 'tracewire-size-'));
try {
  await build({
    entryPoints: { index: join(ROOT, 'dist/index.js'), react: join(ROOT, 'dist/react/index.js') },
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    target: 'es2022',
    outdir: out,
    external: ['react', 'react/*', 'react-dom'],
    logLevel: 'error',
  });
  const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;
  const rows = readdirSync(out).sort().map((name) => [`${name} (minified)`, gz(readFileSync(join(out, name)))]);
  rows.push(['tracewire_sdk_bg.wasm', gz(readFileSync(join(ROOT, 'wasm/tracewire_sdk_bg.wasm')))]);
  const total = rows.reduce((sum, [, n]) => sum + n, 0);
  for (const [name, n] of rows) console.log(`${String(n).padStart(8)} B  ${name}`);
  console.log(`${String(total).padStart(8)} B  total, gzipped (${(total / 1024).toFixed(1)} KiB)`);
  if (total > max) {
    console.error(`tracewire: package size ${total} B exceeds the budget of ${max} B`);
    process.exitCode = 1;
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
