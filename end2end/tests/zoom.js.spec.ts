// Zoom and pan of the graph (project "js"): buttons, Fit, actual size, keys, Ctrl + wheel at
// the pointer, dragging the background; small scales hide node text, big graphs draw more of
// themselves as they zoom out.
import type { Locator, Page } from '@playwright/test';
import { expect, screenshot, test } from './helpers';

async function box(locator: Locator) {
  const rect = await locator.boundingBox();
  expect(rect).not.toBeNull();
  return rect!;
}

/** The graph's natural width, from the box's style. */
async function naturalWidth(page: Page): Promise<number> {
  const style = (await page.locator('.graph-wrap').getAttribute('style')) ?? '';
  return Number(/--graph-w:\s*([\d.]+)px/.exec(style)![1]);
}

test('buttons, keys, Ctrl + wheel and dragging zoom and pan the graph', async ({ page }) => {
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto('/pipelines/build-matrix');
  const tools = page.locator('.graph-tools');
  await expect(tools).toBeVisible();
  await expect(tools.locator('.zoom-level')).toHaveText('auto');
  const svg = page.locator('svg.graph');
  const wrap = page.locator('.graph-wrap');
  const natural = await naturalWidth(page);

  const before = (await box(svg)).width;
  await tools.locator('.zoom-in').click();
  const zoomedIn = (await box(svg)).width;
  expect(zoomedIn / before).toBeCloseTo(1.25, 1);
  await expect(tools.locator('.zoom-level')).toHaveText(`${Math.round((zoomedIn / natural) * 100)}%`);

  await tools.locator('.zoom-actual').click();
  expect(Math.abs((await box(svg)).width - natural)).toBeLessThan(2);
  await expect(tools.locator('.zoom-level')).toHaveText('100%');

  // Fit: the whole drawing inside the box.
  await tools.locator('.zoom-in').click();
  await tools.locator('.zoom-in').click();
  await tools.locator('.zoom-fit').click();
  const [fitted, frame] = [await box(svg), await box(wrap)];
  expect(fitted.x).toBeGreaterThanOrEqual(frame.x - 1);
  expect(fitted.y).toBeGreaterThanOrEqual(frame.y - 1);
  expect(fitted.x + fitted.width).toBeLessThanOrEqual(frame.x + frame.width + 1);
  expect(fitted.y + fitted.height).toBeLessThanOrEqual(frame.y + frame.height + 1);

  // Keys, with the box focused: 1 = actual size, + zooms in.
  await wrap.focus();
  await page.keyboard.press('1');
  await expect(tools.locator('.zoom-level')).toHaveText('100%');
  await page.keyboard.press('+');
  await expect(tools.locator('.zoom-level')).toHaveText('125%');

  // Ctrl + wheel zooms in around the pointer: the node under it stays under it.
  const node = page.locator('svg.graph g.node[data-step="test-linux"] .node-card');
  const card = await box(node);
  const [x, y] = [card.x + card.width / 2, card.y + card.height / 2];
  await page.mouse.move(x, y);
  await page.keyboard.down('Control');
  await page.mouse.wheel(0, -200);
  await page.keyboard.up('Control');
  await expect(tools.locator('.zoom-level')).not.toHaveText('125%');
  const after = await box(node);
  expect(after.width).toBeGreaterThan(card.width * 1.1);
  expect(Math.abs(after.x + after.width / 2 - x)).toBeLessThan(4);
  expect(Math.abs(after.y + after.height / 2 - y)).toBeLessThan(4);
  await screenshot(page, 'zoom-wheel');

  // Dragging the background pans (from the box's padding, so not on a node).
  await wrap.evaluate((w) => {
    w.scrollLeft = (w.scrollWidth - w.clientWidth) / 2;
  });
  const scrollBefore = await wrap.evaluate((w) => w.scrollLeft);
  expect(scrollBefore).toBeGreaterThan(100);
  const edge = await box(wrap);
  await page.mouse.move(edge.x + 4, edge.y + 4);
  await page.mouse.down();
  await page.mouse.move(edge.x + 154, edge.y + 24, { steps: 5 });
  await page.mouse.up();
  const scrollAfter = await wrap.evaluate((w) => w.scrollLeft);
  expect(Math.abs(scrollBefore - scrollAfter - 150)).toBeLessThan(3);

  // Far out, node text is hidden; markers and cards stay.
  await page.keyboard.press('0');
  for (let i = 0; i < 6; i++) await tools.locator('.zoom-out').click();
  await expect(wrap).toHaveClass(/graph-far/);
  await expect(page.locator('svg.graph .node-name').first()).toBeHidden();
  await expect(page.locator('svg.graph .node-card').first()).toBeVisible();
  await screenshot(page, 'zoom-far');
});

test('far out, markers keep a readable size while the graph shrinks', async ({ page }) => {
  await page.setViewportSize({ width: 1400, height: 900 });
  const run = `zoom-${Date.now()}`;
  const created = await page.request.post('/api/v1/runs', {
    data: { id: run, name: 'Zoomed', steps: [{ id: 'a' }, { id: 'b', needs: ['a'] }, { id: 'c', needs: ['b'] }] },
  });
  expect(created.status()).toBe(201);
  const progress = await page.request.post(`/api/v1/runs/${run}/events`, {
    data: { type: 'step.progress', step: 'a', progress: 40 },
  });
  expect(progress.ok()).toBe(true);
  await page.goto(`/runs/${run}`);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  const marker = page.locator('svg.graph g.marker[data-from="a"][data-to="b"]');
  const card = page.locator('svg.graph g.node[data-step="a"] .node-card');
  await expect(marker).toHaveCount(1);
  const near = { marker: (await box(marker)).width, card: (await box(card)).width };

  await page.locator('.graph-tools .zoom-actual').click();
  for (let i = 0; i < 6; i++) await page.locator('.graph-tools .zoom-out').click();
  await expect(page.locator('.graph-wrap')).toHaveClass(/graph-far/);
  const farCard = (await box(card)).width;
  expect(farCard, 'the graph is drawn at under half its size').toBeLessThan(near.card * 0.5);
  // The halo (20 units across) settles at least 15 px wide, 0.8 of its size at any zoom (the
  // marker's transform glides there over half a second).
  await expect.poll(async () => (await box(marker)).width, { timeout: 5_000 }).toBeGreaterThanOrEqual(15);
  const far = { marker: (await box(marker)).width, card: farCard };
  expect(far.marker / far.card, 'the marker is bigger next to the cards than up close').toBeGreaterThan(near.marker / near.card);
  await expect(marker).toHaveAttribute('aria-valuenow', '40');
});
