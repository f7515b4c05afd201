// Playwright configuration for the Signalbox end-to-end tests.
//
// Normally started through `../.ci/e2e` (or `make e2e`), which picks a free
// port and a temporary data directory and exports:
//   SIGNALBOX_E2E_PORT  loopback port for the server under test
//   SIGNALBOX_E2E_DATA  its --data-dir (fresh, deleted afterwards)
//   SIGNALBOX_E2E_BIN   the binary (default: target/debug/signalbox)
// Playwright's webServer below starts the server from the repository root (so it
// finds target/site) and waits for /healthz before any test runs.
//
// Browsers cannot be downloaded here: Debian's Chromium (/usr/bin/chromium) is
// used, and only the Chromium projects exist.
//   js    normal browser with JavaScript: tests in *.js.spec.ts
//   nojs  JavaScript disabled (server-rendered HTML, plain forms and links):
//         tests in *.nojs.spec.ts
import { defineConfig } from '@playwright/test';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..');
const port = Number(process.env.SIGNALBOX_E2E_PORT || 3939);
const dataDir = process.env.SIGNALBOX_E2E_DATA || path.join(os.tmpdir(), 'signalbox-e2e-manual');
const bin = path.resolve(repoRoot, process.env.SIGNALBOX_E2E_BIN || 'target/debug/signalbox');
const baseURL = `http://127.0.0.1:${port}`;

/** Quote a string for the POSIX shell that runs the webServer command. */
const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Shared browser settings: Debian's Chromium, flags for a closed network and root. */
const chromium = {
  browserName: 'chromium' as const,
  viewport: { width: 1280, height: 800 },
  launchOptions: {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  },
};

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: !!process.env.CI,
  // 'list' for people; the JSON file lets ../.ci/e2e print a one-line summary.
  reporter: [['list'], ['json', { outputFile: 'test-results/e2e-results.json' }]],
  timeout: 60_000, // per test; the long run-watching tests raise their own bound
  globalTimeout: 15 * 60_000,
  expect: { timeout: 10_000 },

  use: {
    baseURL,
    actionTimeout: 15_000,
    navigationTimeout: 30_000,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    video: 'off',
  },

  projects: [
    {
      name: 'js',
      testMatch: /.*\.js\.spec\.ts$/,
      use: { ...chromium, javaScriptEnabled: true },
    },
    {
      name: 'nojs',
      testMatch: /.*\.nojs\.spec\.ts$/,
      use: { ...chromium, javaScriptEnabled: false },
    },
  ],

  webServer: {
    command: `${sh(bin)} serve --addr 127.0.0.1:${port} --data-dir ${sh(dataDir)}`,
    cwd: repoRoot,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    // Server logs help when a test fails in CI; SIGNALBOX_E2E_QUIET=1 hides them.
    stdout: process.env.SIGNALBOX_E2E_QUIET ? 'ignore' : 'pipe',
    stderr: 'pipe',
    env: { RUST_LOG: process.env.RUST_LOG || 'info' },
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 },
  },
});
