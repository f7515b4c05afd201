// Toasts (project "js"): a run whose page this tab opened announces its end with a link; other
// runs do not, unless "all runs" is chosen; many endings at once make one grouped toast.
import { expect, screenshot, test } from './helpers';
import type { Page } from '@playwright/test';

async function adhoc(page: Page, id: string) {
  expect((await page.request.post('/api/v1/runs', { data: { id, name: id, steps: [{ id: 'a' }] } })).status()).toBe(201);
  expect((await page.request.post(`/api/v1/runs/${id}/events`, { data: { type: 'step.progress', step: 'a', progress: 10 } })).ok()).toBe(true);
}

async function finish(page: Page, id: string, status: string) {
  const answer = await page.request.post(`/api/v1/runs/${id}/events`, {
    data: [{ type: 'step.finished', step: 'a', status }, { type: 'run.finished', status }],
  });
  expect(answer.ok()).toBe(true);
}

test('runs that end announce themselves: watched ones, all, grouped when many', async ({ page, browser }) => {
  const stamp = Date.now();
  const watched = `watched-${stamp}`;
  const other = `other-${stamp}`;
  await adhoc(page, watched);
  await adhoc(page, other);
  await page.goto(`/runs/${watched}`);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  // The toasts follow the `runs` topic on their own connection; give it a moment to subscribe.
  await page.waitForTimeout(1_000);
  await finish(page, other, 'success');
  await finish(page, watched, 'failed');
  const toasts = page.locator('.toasts .toast');
  await expect(toasts).toHaveCount(1);
  await expect(toasts.first()).toHaveAttribute('data-status', 'failed');
  await expect(toasts.first().locator('a')).toHaveText(`${watched} failed`);
  await expect(toasts.first().locator('a')).toHaveAttribute('href', `/runs/${watched}`);
  await screenshot(page, 'toast');
  await toasts.first().locator('.toast-close').click();
  await expect(toasts).toHaveCount(0);

  // A tab keeps watching the runs whose page it opened after it has gone elsewhere (a fresh
  // page load): here two tabs, each of which opened the run's page, both announce its end.
  const later = `later-${stamp}`;
  await adhoc(page, later);
  const second = await (await browser.newContext()).newPage();
  for (const tab of [page, second]) {
    await tab.goto(`/runs/${later}`);
    await expect(tab.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
    await tab.goto('/');
    await expect(tab.locator('.toast-choice select')).toHaveValue('watched');
    // The tab's topic connection (runs table, system panel, toasts) is live.
    await expect(tab.locator('[data-live="true"]').first()).toBeAttached({ timeout: 15_000 });
  }
  await page.waitForTimeout(500);
  await finish(page, later, 'success');
  for (const tab of [page, second]) {
    const shown = tab.locator('.toasts .toast');
    await expect(shown).toHaveCount(1);
    await expect(shown.first().locator('a')).toHaveText(`${later} finished`);
    await expect(shown.first()).toHaveAttribute('data-status', 'success');
  }
  await second.context().close();
  await toasts.first().locator('.toast-close').click();

  // Every run, chosen in the corner (and kept for the next visit); five at once are one toast.
  await page.locator('.toast-choice select').selectOption('all');
  const many = Array.from({ length: 5 }, (_, i) => `many-${stamp}-${i}`);
  for (const id of many) await adhoc(page, id);
  await page.reload();
  await expect(page.locator('.toast-choice select')).toHaveValue('all');
  await page.waitForTimeout(1_500);
  for (const [i, id] of many.entries()) await finish(page, id, i < 2 ? 'failed' : 'success');
  await expect(toasts).toHaveCount(1);
  await expect(toasts.first().locator('a')).toHaveText('5 runs ended, 2 failed');
  await expect(toasts.first().locator('a')).toHaveAttribute('href', '/?status=failed');
  await screenshot(page, 'toast-grouped');
});
