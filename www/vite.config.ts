import { defineConfig } from 'vite';

// The collector embeds whatever lands in `outDir`: collector/build.rs sets TRACEWIRE_UI_OUT_DIR to
// a directory inside cargo's OUT_DIR. Asset names carry a content hash, so the collector can let
// browsers cache them for a year.
export default defineConfig({
  base: '/',
  build: {
    outDir: process.env.TRACEWIRE_UI_OUT_DIR || 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:4380', ws: true },
    },
  },
});
