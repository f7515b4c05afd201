// The live stream's fallbacks and honesty (project "js"): when a proxy blocks the WebSocket,
// Server-Sent Events carry the run; when SSE is blocked too, polling does; the indicator says
// which, and says so when the connection is down. Hostile text stays text in the hydrated page.
import type { Page } from '@playwright/test';
import { DEPLOY_WEB_CHAIN, expect, screenshot, startRun, test } from './helpers';

const WIDE = { width: 1600, height: 900 };

/** Records every value the indicator's data-state takes from now on. */
async function recordConnStates(page: Page) {
  await page.locator('.conn').waitFor({ state: 'attached' });
  await page.evaluate(() => {
    const el = document.querySelector('.conn')!;
    const seen: string[] = [el.getAttribute('data-state') ?? ''];
    (window as unknown as { __connStates: string[] }).__connStates = seen;
    new MutationObserver(() => seen.push(el.getAttribute('data-state') ?? '')).observe(el, { attributes: true });
  });
}

async function connStates(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __connStates: string[] }).__connStates);
}

/** The run ends green with every step green, as the server has it. */
async function expectDeployWebSucceeded(page: Page) {
  await expect(page.locator('.run-status')).toHaveAttribute('data-status', 'success', { timeout: 90_000 });
  for (const step of DEPLOY_WEB_CHAIN) {
    await expect(page.locator(`svg.graph g.node[data-step="${step}"]`)).toHaveAttribute('data-status', 'success');
  }
  await expect(page.locator('.run-percent')).toHaveText('100%');
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'final');
}

/** Refuses every WebSocket to the live stream, as a proxy that strips upgrades would. */
async function blockWebSocket(page: Page) {
  await page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => ws.close({ code: 1006 }));
}

/** Fails every Server-Sent Events request; plain JSON reads of the same URL still work. */
async function blockSse(page: Page) {
  await page.route(/\/api\/v1\/runs\/[^/]+\/events/, (route) => {
    if ((route.request().headers()['accept'] ?? '').includes('text/event-stream')) return route.abort();
    return route.continue();
  });
}

test.describe('live fallbacks', () => {
  test('with the WebSocket blocked, SSE carries a run to its end', async ({ page }) => {
    test.setTimeout(150_000);
    await page.setViewportSize(WIDE);
    await blockWebSocket(page);
    const sse: string[] = [];
    page.on('request', (r) => {
      if ((r.headers()['accept'] ?? '').includes('text/event-stream')) sse.push(r.url());
    });
    await startRun(page, 'deploy-web');
    const conn = page.locator('.conn');
    await expect(conn).toHaveAttribute('data-transport', 'sse', { timeout: 30_000 });
    await expect(conn).toHaveAttribute('data-state', 'live');
    await expect(conn).toHaveText('Live (SSE)');
    expect(sse.length, 'an EventSource was opened').toBeGreaterThan(0);
    expect(sse[0], 'it resumes from the rendered state, in its history').toMatch(/events\?since=\d+&epoch=[0-9a-f]+$/);
    await screenshot(page, 'run-over-sse');
    await expectDeployWebSucceeded(page);
  });

  test('with WebSocket and SSE blocked, polling carries the run, and the indicator tells the story', async ({ page }) => {
    test.setTimeout(150_000);
    await page.setViewportSize(WIDE);
    await blockWebSocket(page);
    await blockSse(page);
    await startRun(page, 'deploy-web');
    await recordConnStates(page);
    const conn = page.locator('.conn');
    await expect(conn).toHaveAttribute('data-transport', 'polling', { timeout: 45_000 });
    await expect(conn).toHaveText('Live (polling)');
    const states = await connStates(page);
    expect(states, 'it said it was not live while it searched').toContain('reconnecting');
    expect(states.at(-1)).toBe('live');
    // While not live, the page says its data may be stale.
    await expectDeployWebSucceeded(page);
  });

  test('while the stream is down the page marks its data as possibly stale, then recovers', async ({ page }) => {
    test.setTimeout(120_000);
    await page.setViewportSize(WIDE);
    let refuse = false;
    await page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => {
      if (refuse) return ws.close({ code: 1006 });
      const server = ws.connectToServer();
      const check = setInterval(() => {
        if (refuse) {
          clearInterval(check);
          ws.close({ code: 1012, reason: 'test restart' });
          server.close();
        }
      }, 50);
    });
    await startRun(page, 'deploy-web');
    await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
    await expect(page.locator('.run-page')).not.toHaveClass(/stale/);
    refuse = true;
    await expect(page.locator('.conn')).toHaveAttribute('data-state', /reconnecting|offline/, { timeout: 15_000 });
    await expect(page.locator('.run-page')).toHaveClass(/stale/);
    await screenshot(page, 'run-stale');
    refuse = false;
    // It comes back by itself (on the WebSocket, or a fallback if it gave up on it meanwhile).
    await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 45_000 });
    await expect(page.locator('.run-page')).not.toHaveClass(/stale/);
    await expectDeployWebSucceeded(page);
  });
});

test('hostile names, messages and log lines are text in the hydrated page', async ({ page, request }) => {
  const name = '</title><img src=x onerror="window.__pwned=1">';
  const created = await request.post('/api/v1/runs', {
    data: {
      id: 'hostile-e2e',
      name,
      steps: [{ id: 'a', name: '<img src=y onerror="window.__pwned=2">' }, { id: 'b', needs: ['a'] }],
    },
  });
  expect(created.status()).toBe(201);
  const reported = await request.post('/api/v1/runs/hostile-e2e/events', {
    data: [
      { type: 'step.progress', step: 'a', progress: 40, message: '<script>window.__pwned=3</script>' },
      { type: 'step.log', step: 'a', lines: ['<img src=z onerror="window.__pwned=4">'] },
    ],
  });
  expect(reported.status()).toBe(200);
  page.on('dialog', (d) => {
    throw new Error(`a dialog opened: ${d.message()}`);
  });
  await page.goto('/runs/hostile-e2e?step=a');
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
  expect(await page.title()).toBe(`${name} · hostile-e2e · Signalbox`);
  await expect(page.locator('.run-title h1')).toHaveText(name);
  await expect(page.locator('.node-panel .log-lines')).toContainText('<img src=z onerror="window.__pwned=4">');
  // Live updates carry hostile text too.
  await request.post('/api/v1/runs/hostile-e2e/events', {
    data: { type: 'step.progress', step: 'a', progress: 60, message: '<b id="injected">bold</b>' },
  });
  await expect(page.locator('svg.graph g.node[data-step="a"]')).toContainText('<b id="inj', { timeout: 10_000 });
  expect(await page.locator('img[src="x"], img[src="y"], img[src="z"], #injected').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
