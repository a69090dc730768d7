import { defineConfig } from 'vitest/config'
import preact from '@preact/preset-vite'

export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: 'dist',
    // dist/.keep is committed so that `go build` works without a UI build.
    emptyOutDir: false,
    assetsDir: 'assets',
    // Hidden maps let scripts/compress.mjs attribute the first page's bytes to their
    // packages; it deletes them afterwards, so none is embedded or served.
    sourcemap: 'hidden',
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
  },
})
