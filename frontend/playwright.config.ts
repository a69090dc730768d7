import { defineConfig } from '@playwright/test'

// Browser tests drive Debian's Chromium (never a downloaded browser) against a real
// `unionportal serve --demo` that e2e/global-setup.ts starts on a temporary database.
export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: [['list']],
  globalSetup: './e2e/global-setup.ts',
  use: {
    baseURL: process.env.UNIONPORTAL_E2E_URL,
    launchOptions: {
      executablePath: process.env.UNIONPORTAL_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
    screenshot: 'only-on-failure',
    trace: 'off',
  },
})
