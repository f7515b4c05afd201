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
