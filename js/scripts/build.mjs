// Builds the package: the wasm SDK with wasm-pack (--target web) into wasm/ (default features,
// plus those TRACEWIRE_SDK_FEATURES lists), then the TypeScript layer into dist/. `--check` only verifies that a build exists (run by `npm pack`, so a tarball
// without the wasm cannot be made by accident).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WASM = join(ROOT, 'wasm');
const NEEDED = ['wasm/tracewire_sdk.js', 'wasm/tracewire_sdk_bg.wasm', 'wasm/tracewire_sdk.d.ts',
  'dist/index.js', 'dist/index.d.ts', 'dist/react/index.js', 'dist/react/index.d.ts'];

if (process.argv.includes('--check')) {
  const missing = NEEDED.filter((file) => !existsSync(join(ROOT, file)));
  if (missing.length) {
    console.error(`tracewire: not built (missing ${missing.join(', ')}); run \`npm run build\` first`);
    process.exit(1);
  }
  process.exit(0);
}

function run(command, args) {
  console.log(`> ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit' });
  if (result.error) {
    console.error(`tracewire: cannot run ${command}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) process.exit(result.status ?? 1);
}

rmSync(WASM, { recursive: true, force: true });
rmSync(join(ROOT, 'dist'), { recursive: true, force: true });
// TRACEWIRE_SDK_FEATURES=xhr,eventsource adds the SDK's optional cargo features to the default
// ones (README: "XMLHttpRequest and EventSource"); the published package has none of them.
const features = process.env.TRACEWIRE_SDK_FEATURES ?? '';
run('wasm-pack', ['build', join(ROOT, '../sdk-wasm'), '--release', '--target', 'web',
  '--out-dir', WASM, '--out-name', 'tracewire_sdk', ...(features ? ['--', '--features', features] : [])]);
// wasm-pack writes a package of its own; this package ships only the module, types and wasm.
for (const extra of ['package.json', 'README.md', '.gitignore']) rmSync(join(WASM, extra), { force: true });
// The generated classes declare `[Symbol.dispose]`, whose type lives in the `esnext.disposable`
// lib; the reference makes the types check in apps whose tsconfig `lib` predates it.
const types = join(WASM, 'tracewire_sdk.d.ts');
writeFileSync(types, `/// <reference lib="esnext.disposable" />\n${readFileSync(types, 'utf8')}`);
run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
