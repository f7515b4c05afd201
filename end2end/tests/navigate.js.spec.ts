// Finding one's way in a graph (project "js"): the minimap of a graph bigger than the screen
// (absent when it all fits), moving between nodes with the arrow keys, and hover tooltips
// with the step's message.
import { expect, screenshot, test } from './helpers';

/** An ad-hoc run of `chains` chains of `length` steps each: `c<i>-s<j>` needs `c<i>-s<j-1>`. */
async function chains(request: import('@playwright/test').APIRequestContext, id: string, chains: number, length: number) {
  const steps = [];
  for (let c = 0; c < chains; c++) {
    for (let s = 0; s < length; s++) {
      steps.push({ id: `c${c}-s${s}`, name: `Chain ${c} step ${s}`, ...(s > 0 ? { needs: [`c${c}-s${s - 1}`] } : {}) });
    }
  }
  const answer = await request.post('/api/v1/runs', { data: { id, name: id, steps } });
  expect(answer.status()).toBe(201);
}

test('the minimap shows a big graph whole and takes you anywhere in it', async ({ page, request }) => {
  await page.setViewportSize({ width: 1280, height: 800 });
  const run = `minimap-${Date.now()}`;
  await chains(request, run, 20, 20);
  const events = [
    { type: 'step.finished', step: 'c0-s0', status: 'success' },
    { type: 'step.finished', step: 'c19-s0', status: 'failed' },
    { type: 'step.progress', step: 'c0-s1', progress: 40 },
  ];
  expect((await request.post(`/api/v1/runs/${run}/events`, { data: events })).ok()).toBe(true);
  await page.goto(`/runs/${run}`);
  const map = page.locator('svg.minimap');
  await expect(map).toBeVisible();
  // Every node is in it, in its status's colour: one rectangle per node in its status's path.
  const rects = await map.locator('path.minimap-nodes').evaluateAll((paths) =>
    Object.fromEntries(paths.map((p) => [p.getAttribute('data-status'), (p.getAttribute('d')!.match(/M/g) ?? []).length])),
  );
  expect(rects).toMatchObject({ success: 1, failed: 1, running: 1, pending: 397 });
  // The outlined part is what the window shows: the graph's top left, not all of it.
  const view = map.locator('rect.minimap-view');
  const width = Number(await view.getAttribute('width'));
  expect(width).toBeGreaterThan(100);
  await expect(page.locator('g.node[data-step="c19-s19"]')).toHaveCount(0);
  await screenshot(page, 'minimap');

  // A click at the map's bottom right brings the graph's far corner into view (drawn live).
  const box = (await map.boundingBox())!;
  await page.mouse.click(box.x + box.width - 3, box.y + box.height - 3);
  await expect(page.locator('g.node[data-step="c19-s19"]')).toBeInViewport();
  expect(Number(await view.getAttribute('x'))).toBeGreaterThan(0);

  // A graph that fits has none.
  const small = `minimap-small-${Date.now()}`;
  await chains(request, small, 1, 3);
  await page.goto(`/runs/${small}`);
  await expect(page.locator('.graph-tools')).toBeVisible();
  await expect(page.locator('svg.minimap')).toHaveCount(0);
});

test('arrow keys move between nodes, Enter opens one, and hovering shows the message', async ({ page, request }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  const run = `keys-${Date.now()}`;
  await chains(request, run, 3, 4);
  const message = 'copying part 3 of 7';
  expect(
    (await request.post(`/api/v1/runs/${run}/events`, { data: { type: 'step.progress', step: 'c0-s0', progress: 42, message } })).ok(),
  ).toBe(true);
  await page.goto(`/runs/${run}`);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
  const title = page.locator('g.node[data-step="c0-s0"] title');
  await expect(title).toHaveText(`Chain 0 step 0 (c0-s0)\nrunning · 42%\n${message}`);

  const focused = () => page.evaluate(() => document.activeElement?.closest('g.node')?.getAttribute('data-step') ?? null);
  await page.locator('g.node[data-step="c0-s0"] a').focus();
  expect(await focused()).toBe('c0-s0');
  await page.keyboard.press('ArrowRight');
  expect(await focused()).toBe('c0-s1');
  await page.keyboard.press('ArrowDown');
  expect(await focused()).toBe('c1-s1');
  await page.keyboard.press('ArrowLeft');
  expect(await focused()).toBe('c1-s0');
  await page.keyboard.press('ArrowLeft'); // nothing upstream: stays
  expect(await focused()).toBe('c1-s0');
  await page.keyboard.press('Enter');
  await expect(page).toHaveURL(/\?step=c1-s0$/);
  await expect(page.locator('aside.node-panel[data-step="c1-s0"]')).toBeVisible();
});
