// Unit tests of the data transforms (vitest is a dev dependency; the production build in
// collector/build.rs does not install it, so this lives apart from vite.config.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
