// A run's Gantt timeline (project "js"): bars grow while steps run, a retried step shows its
// failed attempt and a step that waited shows the wait, the same in two browser contexts.
import { expect, screenshot, test } from './helpers';

test('the timeline draws attempts, waits and growing bars live in two tabs', async ({ page, browser }) => {
  await page.setViewportSize({ width: 1400, height: 1000 });
  const run = `gantt-${Date.now()}`;
  const created = await page.request.post('/api/v1/runs', {
    data: {
      id: run,
      name: 'Nightly timeline',
      steps: [
        { id: 'fetch', name: 'Fetch' },
        { id: 'load', name: 'Load', needs: ['fetch'] },
        { id: 'report', name: 'Report', needs: ['load'] },
      ],
    },
  });
  expect(created.status()).toBe(201);
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  const post = async (events: object | object[]) => {
    const answer = await page.request.post(`/api/v1/runs/${run}/events`, { data: events });
    expect(answer.ok(), await answer.text()).toBe(true);
  };
  // fetch: attempt 1 from -20 s, attempt 2 from -16 s, done at -12 s; load starts at -9 s
  // (it waited 3 s) and goes on.
  await post([
    { type: 'run.started', params: {}, ts: ago(20) },
    { type: 'step.started', step: 'fetch', ts: ago(20) },
    { type: 'step.started', step: 'fetch', attempt: 2, max_attempts: 3, ts: ago(16) },
    { type: 'step.finished', step: 'fetch', status: 'success', ts: ago(12) },
    { type: 'step.started', step: 'load', ts: ago(9) },
  ]);
  await page.goto(`/runs/${run}`);
  const other = await (await browser.newContext({ colorScheme: 'dark' })).newPage();
  await other.setViewportSize({ width: 1400, height: 1000 });
  await other.goto(`/runs/${run}`);
  for (const p of [page, other]) {
    await expect(p.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
    const gantt = p.locator('section.gantt');
    await expect(gantt.locator('li.gantt-row')).toHaveCount(3);
    const fetch = gantt.locator('li.gantt-row[data-step="fetch"]');
    await expect(fetch.locator('.gantt-attempt')).toHaveCount(1);
    await expect(fetch.locator('.gantt-bar')).not.toHaveClass(/open/);
    await expect(fetch).toHaveAttribute('aria-label', 'Fetch: success, 2 attempts');
    const load = gantt.locator('li.gantt-row[data-step="load"]');
    await expect(load.locator('.gantt-wait')).toHaveCount(1);
    await expect(load.locator('.gantt-bar')).toHaveClass(/open/);
    await expect(gantt.locator('li.gantt-row[data-step="report"] .gantt-bar')).toHaveCount(0);
  }

  // The running bar grows with the clock: its length (ms, `--len`) grows, and the axis has
  // room beyond its end (a running run's axis steps up through round lengths, so the bar's
  // width in pixels shrinks whenever the axis steps up).
  const bar = page.locator('li.gantt-row[data-step="load"] .gantt-bar');
  const length = () => bar.evaluate((el) => Number((el as HTMLElement).style.getPropertyValue('--len')));
  const was = await length();
  expect(was).toBeGreaterThan(0);
  await expect.poll(length, { timeout: 5_000 }).toBeGreaterThan(was);
  const room = await page.locator('section.gantt').evaluate((g) => {
    const span = Number((g.querySelector('.gantt-chart') as HTMLElement).style.getPropertyValue('--span'));
    const end = [...g.querySelectorAll<HTMLElement>('.gantt-track > span:not(.gantt-label)')].map(
      (el) => Number(el.style.getPropertyValue('--from')) + Number(el.style.getPropertyValue('--len') || 0),
    );
    return span - Math.max(...end);
  });
  expect(room, 'the axis reaches beyond the running bar').toBeGreaterThan(0);
  await screenshot(page, 'gantt');

  // Events arrive live: load ends, report starts at once and fails.
  await post([
    { type: 'step.finished', step: 'load', status: 'success' },
    { type: 'step.started', step: 'report' },
    { type: 'step.finished', step: 'report', status: 'failed', message: 'quota' },
    { type: 'run.finished', status: 'failed' },
  ]);
  for (const p of [page, other]) {
    const gantt = p.locator('section.gantt');
    await expect(gantt.locator('li.gantt-row[data-step="report"]')).toHaveAttribute('data-status', 'failed');
    await expect(gantt.locator('.gantt-bar.open')).toHaveCount(0);
    await expect(gantt.locator('li.gantt-row[data-step="report"] .gantt-wait')).toHaveCount(0);
    await expect(gantt.locator('li.gantt-row[data-step="load"] .gantt-label')).toHaveText(/s$/);
  }
  // A finished run's axis stays put.
  const ticks = await page.locator('.gantt-axis').textContent();
  await page.waitForTimeout(1_500);
  await expect(page.locator('.gantt-axis')).toHaveText(ticks ?? '');
  await screenshot(other, 'gantt-dark');
  await other.context().close();
});
