// Writes a gzip copy next to every compressible file of the build, so the collector can serve
// `Content-Encoding: gzip` without compressing at request time. The output directory is the one
// given to `vite build --outDir` (passed on here as the first argument) or `dist`.
import { gzipSync, constants } from 'node:zlib';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? process.env.TRACEWIRE_UI_OUT_DIR ?? 'dist';
const compressible = /\.(html|js|mjs|css|svg|json|txt|map)$/;

function walk(path) {
  for (const name of readdirSync(path)) {
    const full = join(path, name);
    if (statSync(full).isDirectory()) {
      walk(full);
    } else if (compressible.test(name)) {
      const raw = readFileSync(full);
      const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
      if (gz.length < raw.length) writeFileSync(full + '.gz', gz);
    }
  }
}
walk(dir);
