// The deployments board (project "js"): a dozen concurrent deployments, stage by stage, live in
// two browser contexts, with the time an update takes to show measured in each.
import { expect, screenshot, test, type Page } from './helpers';

/**
 * Starts watching, in the page, for `selector`'s text to become `text`; the returned function
 * resolves with Date.now() at that moment, or null if it did not happen within `ms` (the step's
 * own next report can replace a value within the same frame, so it is never shown).
 */
async function watchText(page: Page, selector: string, text: string, ms: number): Promise<() => Promise<number | null>> {
  await page.evaluate(
    ([selector, text, ms]) => {
      (window as unknown as { seenAt: Promise<number | null> }).seenAt = new Promise<number | null>((resolve) => {
        const observer = new MutationObserver(() => {
          if (document.querySelector(selector as string)?.textContent?.trim() === text) {
            observer.disconnect();
            resolve(Date.now());
          }
        });
        observer.observe(document.body, { subtree: true, childList: true, characterData: true });
        setTimeout(() => {
          observer.disconnect();
          resolve(null);
        }, ms as number);
      });
    },
    [selector, text, ms],
  );
  return () => page.evaluate(() => (window as unknown as { seenAt: Promise<number | null> }).seenAt);
}

/** Starts a deployment of the demo web service; its run id. */
async function deploy(page: Page, environment: string): Promise<string> {
  const answer = await page.request.post('/api/v1/runs', { data: { pipeline: 'deploy-web', params: { environment } } });
  expect(answer.status()).toBe(201);
  return (await answer.json()).id;
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
    runs.push(await deploy(page, environment));
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
  // after it fills. (A deployment of its own: on a slow machine the dozen, 17 s each, may be
  // over by now.)
  const first = page.locator(`li.board-row[data-run="${await deploy(page, 'staging')}"]`);
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
  // nested program reports progress on the step a deployment is on (a new one: the dozen may
  // be near their end by now, and each try may take a while).
  const last = await deploy(page, 'staging');
  let latencies: number[] = [];
  for (let attempt = 0; attempt < 8 && latencies.length === 0; attempt++) {
    const stage = await page
      .locator(`li.board-row[data-run="${last}"] li.stage[data-status="running"]`)
      .first()
      .getAttribute('data-stage', { timeout: 30_000 });
    const selector = `li.board-row[data-run="${last}"] li.stage[data-stage="${stage}"] .stage-percent`;
    const shown = await Promise.all([page, other].map((p) => watchText(p, selector, '99%', 1_500)));
    const sent = Date.now();
    const answer = await page.request.post(`/api/v1/runs/${last}/events`, {
      data: { type: 'step.progress', step: stage, progress: 99 },
    });
    if (!answer.ok()) continue; // the step ended meanwhile: take the next one
    const at = await Promise.all(shown.map((seen) => seen()));
    // Replaced by the step's own next report before a frame showed it: try again.
    if (at.some((t) => t === null)) continue;
    latencies = at.map((t) => (t as number) - sent);
  }
  console.log(`board: update shown after ${latencies.join(' ms and ')} ms`);
  expect(latencies).toHaveLength(2);
  for (const ms of latencies) expect(ms).toBeLessThan(500);

  // A cancelled deployment says so in both tabs; the others finish, each with its time.
  // (A run of its own: the dozen may have finished by now.)
  const cancelled = await deploy(page, 'staging');
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

  // With successful deployments behind it, a new one says how long it has left: in its header
  // (a live estimate, which moves as the run goes) and, in a step's panel, how long the step
  // usually takes.
  const next = await deploy(page, 'staging');
  await page.goto(`/runs/${next}?step=cloning-repo`);
  const left = page.locator('.run-header .run-left');
  await expect(left).toHaveText(/^about .+ left$/, { timeout: 15_000 });
  const estimate = await left.textContent();
  await expect(left).not.toHaveText(estimate ?? '', { timeout: 10_000 });
  await expect(page.locator('aside.node-panel[data-step="cloning-repo"]')).toContainText('Usually');
});
