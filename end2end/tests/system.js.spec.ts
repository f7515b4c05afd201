// The system panel (project "js"): the server's vital signs on the home page, live over the
// stream's `system` topic, the same in two browser contexts.
import { expect, screenshot, test } from './helpers';

test('the home page shows the server\'s vital signs live, in every tab', async ({ page, browser }) => {
  await page.setViewportSize({ width: 1400, height: 800 });
  await page.goto('/');
  const panel = page.locator('aside.system-panel');
  await expect(panel).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await expect(panel.locator('[data-metric="memory"]')).toHaveText(/^\d+(\.\d)? [MG]B of \d+(\.\d)? GB$/);
  await expect(panel.locator('[data-metric="disk"]')).toHaveText(/ of /);
  await expect(panel.locator('[data-metric="cpu"]')).toHaveText(/^\d+%$/);

  // A second tab (its own browser context) is a second client: both panels count it.
  const other = await (await browser.newContext()).newPage();
  await other.goto('/');
  const otherPanel = other.locator('aside.system-panel');
  await expect(otherPanel).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  const atLeastTwo = async (p: typeof panel) =>
    expect.poll(async () => Number((await p.locator('[data-metric="clients"]').textContent()) ?? 0), { timeout: 15_000 }).toBeGreaterThanOrEqual(2);
  await atLeastTwo(panel);
  await atLeastTwo(otherPanel);

  // Events stored show as a rate in the next reading.
  const run = `sys-${Date.now()}`;
  expect((await page.request.post('/api/v1/runs', { data: { id: run, steps: [{ id: 'a' }] } })).status()).toBe(201);
  const burst = async () => {
    const events = Array.from({ length: 200 }, (_, i) => ({ type: 'step.progress', step: 'a', progress: (i % 100) + 1 }));
    expect((await page.request.post(`/api/v1/runs/${run}/events`, { data: events })).ok()).toBe(true);
  };
  await expect
    .poll(async () => {
      await burst();
      return Number((await panel.locator('[data-metric="events"]').textContent())?.replace(/,/g, '') ?? 0);
    }, { timeout: 20_000, intervals: [500] })
    .toBeGreaterThan(0);
  await screenshot(page, 'system-panel');
  await other.context().close();
});

test("the home page's live views share one connection", async ({ page }) => {
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  await page.goto('/');
  // The system panel, the runs table and the toasts all follow topics.
  await expect(page.locator('aside.system-panel')).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await page.waitForTimeout(1_000);
  expect(sockets).toHaveLength(1);
  // Moving to a pipeline's page keeps it (its runs table follows `runs` on it too).
  await page.locator('ul.pipeline-list a').first().click();
  await expect(page.locator('section.runs')).toBeVisible();
  await page.waitForTimeout(1_000);
  expect(sockets).toHaveLength(1);
});
