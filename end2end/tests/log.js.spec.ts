// The node panel's log (project "js"): 100,000 lines stay light (only the lines in view are
// in the page), the box follows new lines at its end in two tabs, Copy puts the whole log on
// the clipboard; and the panel's sparkline of the step's earlier durations.
import { expect, screenshot, test } from './helpers';

const TOTAL = 100_000;
const BATCH = 10_000;

test('a 100,000-line log scrolls, follows and copies while only its visible part is drawn', async ({ page, browser }) => {
  test.setTimeout(120_000);
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  const run = `biglog-${Date.now()}`;
  const created = await page.request.post('/api/v1/runs', {
    data: { id: run, name: 'Big log', steps: [{ id: 'import', name: 'Import' }] },
  });
  expect(created.status()).toBe(201);
  const post = async (events: object | object[]) => {
    const answer = await page.request.post(`/api/v1/runs/${run}/events`, { data: events });
    expect(answer.ok(), await answer.text()).toBe(true);
  };
  await post({ type: 'step.started', step: 'import' });
  for (let from = 1; from <= TOTAL; from += BATCH) {
    const lines = Array.from({ length: BATCH }, (_, i) => `row ${from + i} loaded`);
    await post({ type: 'step.log', step: 'import', lines });
  }

  await page.goto(`/runs/${run}?step=import`);
  const other = await (await browser.newContext()).newPage();
  await other.goto(`/runs/${run}?step=import`);
  for (const p of [page, other]) {
    const log = p.locator('aside.node-panel .log-lines');
    // The page loads the first lines, the stream brings the rest, and the box sits at the end.
    await expect(log).toContainText(`row ${TOTAL} loaded`, { timeout: 30_000 });
    const drawn = await log.locator('.log-line').count();
    expect(drawn).toBeGreaterThan(10);
    expect(drawn).toBeLessThan(300);
  }

  // An ad-hoc run has no earlier runs to compare its steps with.
  await expect(page.locator('aside.node-panel .panel-history')).toHaveCount(0);

  // Anywhere in the log, by scrolling.
  const log = page.locator('aside.node-panel .log-lines');
  await log.evaluate((el) => (el.scrollTop = 0));
  await expect(log.locator('.log-line').first()).toHaveAttribute('data-n', '1');
  await expect(log).toContainText('row 1 loaded');
  await log.evaluate((el) => (el.scrollTop = 50_000 * 19));
  await expect(log).toContainText('row 50001 loaded');
  expect(await log.locator('.log-line').count()).toBeLessThan(300);
  await screenshot(page, 'log-middle');

  // At the end, new lines are followed in both tabs; a box scrolled up stays where it is.
  await log.evaluate((el) => (el.scrollTop = el.scrollHeight));
  await post({ type: 'step.log', step: 'import', lines: ['all rows loaded'] });
  for (const p of [page, other]) {
    await expect(p.locator('aside.node-panel .log-lines')).toContainText('all rows loaded');
  }

  // Copy: the whole log, not just what is drawn.
  await page.locator('button.log-copy').click();
  await expect(page.locator('button.log-copy')).toHaveText('Copied');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  const lines = copied.split('\n');
  expect(lines).toHaveLength(TOTAL + 1);
  expect(lines[0]).toBe('row 1 loaded');
  expect(lines[TOTAL]).toBe('all rows loaded');
  await other.context().close();
});

test("the panel shows the step's durations in earlier runs", async ({ page, request }) => {
  test.setTimeout(90_000);
  // Two earlier runs, each cancelled while its first step runs.
  const earlier: string[] = [];
  for (let i = 0; i < 2; i++) {
    const answer = await request.post('/api/v1/runs', { data: { pipeline: 'deploy-web' } });
    const run = (await answer.json()).id as string;
    earlier.push(run);
    await expect
      .poll(async () => (await (await request.get(`/api/v1/runs/${run}`)).json()).steps['starting-container'].status, {
        timeout: 20_000,
      })
      .toBe('running');
    expect((await request.post(`/api/v1/runs/${run}/cancel`)).ok()).toBe(true);
  }
  const answer = await request.post('/api/v1/runs', { data: { pipeline: 'deploy-web' } });
  const run = (await answer.json()).id as string;
  await page.goto(`/runs/${run}?step=starting-container`);
  const history = page.locator('aside.node-panel .panel-history');
  // Earlier tests ran deploy-web too: the two cancelled runs are the newest bars, oldest first,
  // and there are never more than 20.
  const bars = history.locator('rect.spark-bar:not(.spark-now)');
  await expect(bars.first()).toBeAttached();
  const count = await bars.count();
  expect(count).toBeGreaterThanOrEqual(2);
  expect(count).toBeLessThanOrEqual(20);
  await expect(history).toContainText(`over the last ${count} ended runs`);
  const links = history.locator('a');
  for (const [i, run] of earlier.entries()) {
    // Each bar opens that run at this step.
    const link = links.nth(count - 2 + i);
    await expect(link).toHaveAttribute('href', `/runs/${run}?step=starting-container`);
    await expect(link.locator('rect')).toHaveAttribute('data-status', 'cancelled');
  }
  // This run's bar comes last and grows while the step runs.
  const now = history.locator('rect.spark-now');
  await expect(now).toHaveCount(1, { timeout: 15_000 });
  await screenshot(page, 'panel-history');
  expect((await request.post(`/api/v1/runs/${run}/cancel`)).ok()).toBe(true);
});
