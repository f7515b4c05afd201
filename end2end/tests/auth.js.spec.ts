// Signing in, as a person does on a server that requires it: a page sends them to the sign-in
// page, a one-time link signs them in (the top bar says who and with which role), they see
// only their tenant's runs (another tenant's, same id or not, is absent or 404), the link
// works once, and signing out in one tab sends the other tab's live run page to the sign-in
// page too (its WebSocket closes with 4401 and the page reloads).
//
// This file starts its own server with a secret beside the suite's laptop-mode server.
import { test, expect, screenshot } from './helpers';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..');
const bin = path.resolve(repoRoot, process.env.SIGNALBOX_E2E_BIN || 'target/debug/signalbox');
const SECRET = 'e2e-secret-e2e-secret-e2e-secret-0123456';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

let server: ChildProcess | undefined;
let base = '';
let dataDir = '';

/** `signalbox token create` for this server: the API token and the one-time link. */
function createToken(user: string, role: string, tenant = 'default'): { token: string; link: string } {
  const out = execFileSync(
    bin,
    ['token', 'create', '--user', user, '--role', role, '--tenant', tenant, '--data-dir', dataDir, '--url', base],
    { env: { ...process.env, SIGNALBOX_SECRET: SECRET }, encoding: 'utf8' },
  );
  const lines = out.split('\n').map((l) => l.trim());
  const token = lines[lines.findIndex((l) => l.startsWith('Token for')) + 1];
  const link = lines.find((l) => l.includes('/login?link=')) ?? '';
  return { token, link };
}

test.beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'signalbox-e2e-auth-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    cwd: repoRoot,
    env: { ...process.env, SIGNALBOX_SECRET: SECRET, RUST_LOG: 'warn' },
    stdio: 'ignore',
  });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the secured server did not start');
});

test.afterAll(async () => {
  server?.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a one-time link signs in, the bar says who, only the tenant\'s runs show, and signing out reaches every tab', async ({ page, context }) => {
  const admin = createToken('root', 'admin');
  const created = await fetch(`${base}/api/v1/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'nightly-import', name: 'Nightly import', steps: [{ id: 'load' }, { id: 'index', needs: ['load'] }] }),
  });
  expect(created.status).toBe(201);
  // Another tenant's run, with the same id and one of its own.
  const acme = createToken('acme-admin', 'admin', 'acme');
  for (const id of ['nightly-import', 'acme-ledger-close']) {
    const response = await fetch(`${base}/api/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, name: 'ACME ledger', steps: [{ id: 'vault' }] }),
    });
    expect(response.status).toBe(201);
  }

  await page.goto(`${base}/runs/nightly-import`);
  await expect(page).toHaveURL(/\/login\?next=\/runs\/nightly-import$/);
  await expect(page.locator('textarea#credential')).toBeVisible();
  await screenshot(page, 'sign-in');

  const ann = createToken('ann', 'operator');
  await page.goto(ann.link);
  await expect(page.getByText('You are signing in with a one-time link.')).toBeVisible();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(`${base}/`);
  const chip = page.locator('.user-menu .chip.user');
  await expect(chip).toHaveText('ann · operator');
  await expect(page.locator('.user-menu').getByRole('link', { name: 'Audit' })).toHaveCount(0);
  await expect(page.locator('tr[data-run="nightly-import"]')).toBeVisible();
  await expect(page.locator('tr[data-run="nightly-import"]')).toContainText('Nightly import');
  await expect(page.locator('tr[data-run="acme-ledger-close"]')).toHaveCount(0);
  await expect(page.getByText('ACME ledger')).toHaveCount(0);
  await screenshot(page, 'signed-in-home');
  const foreign = await page.goto(`${base}/runs/acme-ledger-close`);
  expect(foreign?.status()).toBe(404);

  // The link worked once.
  const other = await context.browser()!.newContext();
  const stranger = await other.newPage();
  await stranger.goto(ann.link);
  await stranger.getByRole('button', { name: 'Sign in' }).click();
  await expect(stranger.locator('.login-error')).toHaveText(/already been used/);
  await screenshot(stranger, 'sign-in-link-used');
  await other.close();

  // Two tabs of the same session watch the run live; signing out in one ends both.
  await page.goto(`${base}/runs/nightly-import`);
  await expect(page.locator('.conn[data-state="live"]')).toBeVisible();
  const second = await context.newPage();
  await second.goto(`${base}/runs/nightly-import`);
  await expect(second.locator('.conn[data-state="live"]')).toBeVisible();
  // And a home page, whose views follow topics on the tab's shared connection.
  const home = await context.newPage();
  await home.goto(`${base}/`);
  await expect(home.locator('aside.system-panel')).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await page.locator('.user-menu').getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login\?signed_out=1$/);
  await expect(page.getByText('You have signed out.')).toBeVisible();
  await expect(second).toHaveURL(/\/login\?next=/, { timeout: 15_000 });
  await expect(home).toHaveURL(/\/login/, { timeout: 15_000 });
  await screenshot(page, 'signed-out');
});

test('an admin sees the audit trail of what people did', async ({ page }) => {
  const admin = createToken('root', 'admin');
  await page.goto(admin.link);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('.user-menu .chip.user')).toHaveText('root · admin');
  await page.locator('.user-menu').getByRole('link', { name: 'Audit' }).click();
  await expect(page).toHaveURL(`${base}/audit`);
  const rows = page.locator('table.audit-table tbody tr');
  await expect(rows.first()).toBeVisible();
  await expect(page.locator('tr[data-action="sign_in"]').first()).toContainText('root');
  await expect(page.locator('tr[data-action="token.create"]').first()).toContainText('cli');
  await page.locator('select[name="action"]').selectOption('token.create');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/action=token\.create/);
  const filtered = page.locator('table.audit-table tbody tr');
  await expect(filtered.first()).toBeVisible();
  const count = await filtered.count();
  expect(count).toBeGreaterThanOrEqual(1);
  await expect(page.locator('table.audit-table tbody tr[data-action="token.create"]')).toHaveCount(count);
  await expect(page.locator('table.audit-table tbody tr[data-action="sign_in"]')).toHaveCount(0);
  await screenshot(page, 'audit');
});
