// Run history (project "js"): rows appear, progress and finish live on the home page, the same
// in a second browser context, and the filters narrow the list.
import { expect, screenshot, test } from './helpers';

test('the runs table follows runs live in two tabs, and filters by status', async ({ page, browser }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  await page.goto('/');
  const other = await (await browser.newContext()).newPage();
  await other.goto('/');
  const tables = [page, other].map((p) => p.locator('section.runs'));
  // Both pages follow the `runs` topic before anything happens (the system panel shows the
  // stream is up on each).
  for (const p of [page, other]) {
    await expect(p.locator('aside.system-panel')).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  }
  await page.waitForTimeout(500);

  const run = `table-${Date.now()}`;
  const created = await page.request.post('/api/v1/runs', {
    data: { id: run, name: 'Nightly table', steps: [{ id: 'a' }, { id: 'b', needs: ['a'] }] },
  });
  expect(created.status()).toBe(201);
  const post = async (events: object | object[]) => {
    const answer = await page.request.post(`/api/v1/runs/${run}/events`, { data: events });
    expect(answer.ok()).toBe(true);
  };
  await post({ type: 'step.progress', step: 'a', progress: 50 });
  for (const table of tables) {
    const row = table.locator(`tr[data-run="${run}"]`);
    await expect(row).toHaveAttribute('data-status', 'running');
    await expect(row.locator('td.run-progress')).toHaveText('25%');
    await expect(table.locator('tbody tr').first()).toHaveAttribute('data-run', run);
  }
  // The duration ticks while the run goes on.
  const duration = tables[0].locator(`tr[data-run="${run}"] td.run-duration`);
  const first = await duration.textContent();
  await expect(duration).not.toHaveText(first ?? '', { timeout: 5_000 });
  await screenshot(page, 'runs-table');

  await post([
    { type: 'step.finished', step: 'a', status: 'success' },
    { type: 'step.finished', step: 'b', status: 'failed', message: 'boom' },
    { type: 'run.finished', status: 'failed' },
  ]);
  for (const table of tables) {
    const row = table.locator(`tr[data-run="${run}"]`);
    await expect(row).toHaveAttribute('data-status', 'failed');
    // Finished steps count whole, failed ones too (see "Extensions").
    await expect(row.locator('td.run-progress')).toHaveText('100%');
  }
  const stopped = await duration.textContent();
  await page.waitForTimeout(1_500);
  await expect(duration).toHaveText(stopped ?? '');

  // Filter: only failed runs, by the form (a GET of the page).
  await page.locator('form.run-filters select[name="status"]').selectOption('failed');
  await page.locator('form.run-filters button[type="submit"]').click();
  await expect(page).toHaveURL(/status=failed/);
  const rows = page.locator('section.runs tbody tr');
  await expect(rows.first()).toHaveAttribute('data-run', run);
  const statuses = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-status')));
  expect(new Set(statuses)).toEqual(new Set(['failed']));
  await other.context().close();
});

test('the runs table pages through history and filters by pipeline and day', async ({ page }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  // 27 ad-hoc runs, cancelled: more than a page (25) of cancelled runs, newest last.
  const stamp = Date.now();
  const ours = Array.from({ length: 27 }, (_, i) => `page-${stamp}-${String(i).padStart(2, '0')}`);
  for (const id of ours) {
    const created = await page.request.post('/api/v1/runs', { data: { id, name: 'Paged', steps: [{ id: 'a' }] } });
    expect(created.status()).toBe(201);
    const ended = await page.request.post(`/api/v1/runs/${id}/events`, {
      data: { type: 'run.finished', status: 'cancelled' },
    });
    expect(ended.ok()).toBe(true);
  }
  const rowIds = () =>
    page.locator('section.runs tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute('data-run'), tr.getAttribute('data-status')]),
    );

  await page.goto('/?status=cancelled');
  const first = await rowIds();
  expect(first).toHaveLength(25);
  expect(new Set(first.map(([, s]) => s))).toEqual(new Set(['cancelled']));
  await expect(page.locator('.run-pages a', { hasText: '← Newest' })).toHaveCount(0);
  const older = page.locator('.run-pages a', { hasText: 'Older runs →' });
  await expect(older).toHaveAttribute('href', `?status=cancelled&before=${first[24][0]}`);
  await older.click();
  await expect(page).toHaveURL(new RegExp(`before=${first[24][0]}`));
  await expect(page.locator('.run-pages a', { hasText: '← Newest' })).toBeVisible();
  await expect(page.locator('section.runs tbody tr').first()).not.toHaveAttribute('data-run', first[0][0] ?? '');
  const second = await rowIds();
  expect(second.length).toBeGreaterThan(0);
  expect(new Set(second.map(([, s]) => s))).toEqual(new Set(['cancelled']));
  // No run on both pages, and ours read newest first across the two.
  const seen = [...first, ...second].map(([id]) => id);
  expect(new Set(seen).size).toBe(seen.length);
  expect(seen.filter((id) => id?.startsWith(`page-${stamp}-`))).toEqual([...ours].reverse());
  await screenshot(page, 'runs-older');
  await page.locator('.run-pages a', { hasText: '← Newest' }).click();
  await expect(page.locator('section.runs tbody tr').first()).toHaveAttribute('data-run', first[0][0] ?? '');

  // Day (UTC): today's list has them, the day before has none of them.
  const today = new Date().toISOString().slice(0, 10);
  const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  await page.goto('/?status=cancelled');
  // (Filled as soon as the page is there: hydration leaves a choice made before it alone.)
  await page.locator('form.run-filters input[name="day"]').fill(today);
  await page.locator('form.run-filters button[type="submit"]').click();
  await expect(page).toHaveURL(new RegExp(`day=${today}`));
  await expect(page.locator(`section.runs tr[data-run="${ours[26]}"]`)).toBeVisible();
  await page.goto(`/?status=cancelled&day=${yesterday}`);
  await expect(page.locator('section.runs')).not.toContainText('Loading');
  await expect(page.locator(`section.runs tr[data-run^="page-${stamp}-"]`)).toHaveCount(0);

  // Pipeline: a cancelled run of etl-orders, and the filter keeps only that pipeline's runs.
  const started = await page.request.post('/api/v1/runs', { data: { pipeline: 'etl-orders' } });
  expect(started.status()).toBe(201);
  const etl = (await started.json()).id as string;
  expect((await page.request.post(`/api/v1/runs/${etl}/cancel`)).ok()).toBe(true);
  await page.goto('/');
  await page.locator('form.run-filters select[name="pipeline"]').selectOption('etl-orders');
  await page.locator('form.run-filters button[type="submit"]').click();
  await expect(page).toHaveURL(/pipeline=etl-orders/);
  await expect(page.locator(`section.runs tr[data-run="${etl}"]`)).toBeVisible();
  const pipelines = await page
    .locator('section.runs tbody tr')
    .evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-pipeline')));
  expect(new Set(pipelines)).toEqual(new Set(['etl-orders']));
});
