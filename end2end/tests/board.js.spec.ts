// The deployments board (project "js"): a dozen concurrent deployments, stage by stage, live in
// two browser contexts, with the time an update takes to show measured in each.
import { expect, screenshot, test, type Page } from './helpers';

/** Resolves, in the page, with Date.now() when `selector`'s text first becomes `text`. */
function whenText(page: Page, selector: string, text: string): Promise<number> {
  return page.evaluate(
    ([selector, text]) =>
      new Promise<number>((resolve) => {
        const seen = () => document.querySelector(selector)?.textContent?.trim() === text;
        if (seen()) return resolve(Date.now());
        const observer = new MutationObserver(() => {
          if (seen()) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
      }),
    [selector, text],
  );
}

test('the deployments board follows a dozen deployments live in two tabs', async ({ page, browser }) => {
  test.setTimeout(150_000);
  await page.setViewportSize({ width: 1600, height: 1000 });
  await page.goto('/deployments');
  const other = await (await browser.newContext({ colorScheme: 'dark' })).newPage();
  await other.setViewportSize({ width: 1600, height: 1000 });
  await other.goto('/deployments');
  for (const p of [page, other]) {
    await expect(p.locator('ol.board')).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  }

  const runs: string[] = [];
  for (let i = 0; i < 12; i++) {
    const environment = i % 3 === 0 ? 'production' : 'staging';
    const answer = await page.request.post('/api/v1/runs', {
      data: { pipeline: 'deploy-web', params: { environment } },
    });
    expect(answer.status()).toBe(201);
    runs.push((await answer.json()).id);
  }
  for (const p of [page, other]) {
    for (const run of runs) {
      await expect(p.locator(`li.board-row[data-run="${run}"]`)).toBeVisible();
    }
    // Newest first.
    await expect(p.locator('li.board-row').first()).toHaveAttribute('data-run', runs[runs.length - 1]);
    const row = p.locator(`li.board-row[data-run="${runs[0]}"]`);
    await expect(row.locator('li.stage')).toHaveCount(6);
    await expect(row.locator('.board-param')).toContainText('production');
  }

  // Stages run in order: one pulses while the ones before it are done and the connector
  // after it fills.
  const first = page.locator(`li.board-row[data-run="${runs[0]}"]`);
  const running = first.locator('li.stage[data-status="running"]');
  await expect(running).toHaveCount(1, { timeout: 30_000 });
  await expect(first.locator('li.stage').first()).toHaveAttribute('data-status', /running|success/);
  await expect(running.locator('.stage-percent')).toHaveText(/^\d+%$/);
  const time = first.locator('.board-time');
  await expect(time).toHaveText(/^Running for /);
  const before = await time.textContent();
  await expect(time).not.toHaveText(before ?? '', { timeout: 5_000 });
  await screenshot(page, 'board');
  await screenshot(other, 'board-dark');

  // An update shows in both tabs well under half a second after it was sent. The update: a
  // nested program reports progress on the step the last run is on.
  const last = runs[runs.length - 1];
  let latencies: number[] = [];
  for (let attempt = 0; attempt < 5 && latencies.length === 0; attempt++) {
    const stage = await page
      .locator(`li.board-row[data-run="${last}"] li.stage[data-status="running"]`)
      .first()
      .getAttribute('data-stage', { timeout: 30_000 });
    const selector = `li.board-row[data-run="${last}"] li.stage[data-stage="${stage}"] .stage-percent`;
    const shown = [page, other].map((p) => whenText(p, selector, '99%'));
    const sent = Date.now();
    const answer = await page.request.post(`/api/v1/runs/${last}/events`, {
      data: { type: 'step.progress', step: stage, progress: 99 },
    });
    if (!answer.ok()) continue; // the step ended meanwhile: take the next one
    latencies = (await Promise.all(shown)).map((at) => at - sent);
  }
  console.log(`board: update shown after ${latencies.join(' ms and ')} ms`);
  expect(latencies).toHaveLength(2);
  for (const ms of latencies) expect(ms).toBeLessThan(500);

  // A cancelled deployment says so in both tabs; the others finish, each with its time.
  const cancelled = runs[1];
  expect((await page.request.post(`/api/v1/runs/${cancelled}/cancel`)).ok()).toBe(true);
  for (const p of [page, other]) {
    const row = p.locator(`li.board-row[data-run="${cancelled}"]`);
    await expect(row).toHaveAttribute('data-status', 'cancelled');
    await expect(row.locator('.board-time')).toHaveText(/^Cancelled after /);
  }
  for (const p of [page, other]) {
    const row = p.locator(`li.board-row[data-run="${runs[0]}"]`);
    await expect(row).toHaveAttribute('data-status', 'success', { timeout: 90_000 });
    await expect(row.locator('li.stage[data-status="success"]')).toHaveCount(6);
    await expect(row.locator('.board-time')).toHaveText(/^Succeeded in /);
  }
  await other.context().close();
});
