import { defineConfig } from '@playwright/test';

// Debian's Chromium; Playwright's own browser download cannot work on these machines.
export default defineConfig({
  testDir: './tests',
  // Each test starts its own server; one worker keeps a 2-core machine responsive.
  workers: 1,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  retries: 0,
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
    trace: 'retain-on-failure',
  },
});
