// Prints the package's size as a browser downloads it: each shipped file gzipped (level 9), the
// wasm and the JavaScript (wasm-bindgen glue, its snippets and the TypeScript layer, unminified).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const shipped = [...files(join(ROOT, 'wasm')), ...files(join(ROOT, 'dist'))].filter((f) => /\.(js|wasm)$/.test(f));
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
let wasm = 0;
let js = 0;
for (const file of shipped.sort()) {
  const gz = gzipSync(readFileSync(file), { level: 9 }).length;
  if (file.endsWith('.wasm')) wasm += gz;
  else js += gz;
  console.log(`${kib(gz).padStart(10)}  ${relative(ROOT, file)}`);
}
console.log(`${kib(wasm).padStart(10)}  wasm, gzipped`);
console.log(`${kib(js).padStart(10)}  JavaScript, gzipped (unminified)`);
console.log(`${kib(wasm + js).padStart(10)}  total, gzipped`);
