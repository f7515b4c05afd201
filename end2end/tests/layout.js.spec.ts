// No layout shift (project "js"): the server's HTML already has every box at its final size, so
// neither hydration nor live data arriving moves anything on the page. Measured with Chromium's
// layout-shift entries (the Cumulative Layout Shift of web-vitals, without user input).
import { expect, test } from './helpers';

/** Layout shift allowed per page: web-vitals call under 0.1 "good"; ours should be near none. */
const MAX_SHIFT = 0.02;
/**
 * Outside the timeline, whose axis steps to a longer round length now and then while a run goes
 * on (by design), nothing may move at all: "Connecting…" turning into "Live" in the header,
 * before its width was fixed, was a shift of 0.004.
 */
const MAX_SHIFT_OUTSIDE_TIMELINE = 0.002;

type Shift = { value: number; nodes: string[]; timeline: boolean };

test('pages do not shift while they hydrate and live data arrives', async ({ page }) => {
  test.setTimeout(90_000);
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.addInitScript(() => {
    const w = window as unknown as { shifts: Shift[] };
    w.shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as unknown as {
        value: number;
        hadRecentInput: boolean;
        sources?: { node?: Node }[];
      }[]) {
        if (entry.hadRecentInput) continue;
        const elements = (entry.sources ?? []).map((s) =>
          s.node instanceof Element ? s.node : (s.node?.parentElement ?? null),
        );
        w.shifts.push({
          value: entry.value,
          nodes: elements.map((el) => (el ? `${el.nodeName.toLowerCase()}.${(el.getAttribute('class') ?? '').split(' ')[0]}` : '?')),
          timeline: elements.length > 0 && elements.every((el) => el?.closest('.gantt')),
        });
      }
    }).observe({ type: 'layout-shift', buffered: true });
  });
  // Each page watches a run of its own, started just before: a run that ended while its page
  // was watched would change the page's content (its header loses Cancel and the time left).
  const start = async () => {
    const started = await page.request.post('/api/v1/runs', { data: { pipeline: 'deploy-web' } });
    expect(started.status()).toBe(201);
    return (await started.json()).id as string;
  };
  const pages = [
    { path: (run: string) => `/runs/${run}`, live: page.locator('.conn[data-state="live"]') },
    { path: (run: string) => `/runs/${run}?step=starting-container`, live: page.locator('.conn[data-state="live"]') },
    { path: () => '/', live: page.locator('aside.system-panel[data-live="true"]') },
    { path: () => '/deployments', live: page.locator('ol.board[data-live="true"]') },
    { path: () => '/pipelines/build-matrix', live: page.locator('svg.graph') },
  ];
  for (const { path: pathOf, live } of pages) {
    const run = await start();
    const path = pathOf(run);
    await page.goto(path);
    await expect(live).toBeAttached({ timeout: 20_000 });
    // Live updates keep arriving meanwhile (the run's steps progress every few hundred ms).
    await page.waitForTimeout(3_000);
    const shifts = await page.evaluate(() => (window as unknown as { shifts: Shift[] }).shifts);
    const sum = (list: Shift[]) => list.reduce((total, s) => total + s.value, 0);
    const outside = shifts.filter((s) => !s.timeline);
    expect(sum(shifts), `${path} shifted: ${JSON.stringify(shifts)}`).toBeLessThan(MAX_SHIFT);
    expect(sum(outside), `${path} shifted outside the timeline: ${JSON.stringify(outside)}`).toBeLessThan(
      MAX_SHIFT_OUTSIDE_TIMELINE,
    );
    await page.request.post(`/api/v1/runs/${run}/cancel`);
  }
  // The measure itself works: a banner pushed in above the content is a shift it sees.
  await page.evaluate(() => {
    const banner = document.createElement('div');
    banner.style.height = '200px';
    document.querySelector('.page')?.prepend(banner);
  });
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { shifts: Shift[] }).shifts.reduce((sum, s) => sum + s.value, 0)))
    .toBeGreaterThan(MAX_SHIFT);
});
