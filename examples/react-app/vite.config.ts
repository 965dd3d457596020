import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Nothing Tracewire-specific: the package's wasm is found through `new URL(..., import.meta.url)`.
export default defineConfig({
  plugins: [react()],
});
