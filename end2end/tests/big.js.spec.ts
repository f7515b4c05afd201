// Big graphs (project "js"): the server sends every node as static markup (the page works
// without JavaScript); once hydrated, the browser draws live only what is on screen, keeps it
// current, and draws more as the graph scrolls.
import type { APIRequestContext } from '@playwright/test';
import { expect, screenshot, test } from './helpers';

const WIDTH = 25;
const LAYERS = 16;

/** Steps in layers of WIDTH, each needing two steps of the layer before. */
function layered() {
  return Array.from({ length: WIDTH * LAYERS }, (_, i) => {
    const [layer, j] = [Math.floor(i / WIDTH), i % WIDTH];
    const needs = layer === 0 ? [] : [...new Set([`s${layer - 1}-${j}`, `s${layer - 1}-${(j + 1) % WIDTH}`])];
    return { id: `s${layer}-${j}`, needs };
  });
}

async function progress(request: APIRequestContext, run: string, step: string, percent: number) {
  const answer = await request.post(`/api/v1/runs/${run}/events`, {
    data: { type: 'step.progress', step, progress: percent },
  });
  expect(answer.ok()).toBe(true);
}

test('a 400-step graph arrives whole, then draws live only what is on screen', async ({ page }) => {
  const run = `big-${Date.now()}`;
  const created = await page.request.post('/api/v1/runs', {
    data: { id: run, name: '400 steps', steps: layered() },
  });
  expect(created.status()).toBe(201);
  await page.request.post(`/api/v1/runs/${run}/events`, { data: { type: 'run.started' } });
  const [near, far] = ['s0-3', `s${LAYERS - 1}-20`];
  await progress(page.request, run, near, 40);
  await progress(page.request, run, far, 70);

  // The server's page holds every node, with its state, as static markup for browsers without
  // JavaScript (in a <noscript>, which a browser with JavaScript does not parse), and for the
  // others what a first screen shows.
  const html = await (await page.request.get(`/runs/${run}`)).text();
  const whole = /<noscript><svg [^>]*class="graph"[\s\S]*?<\/noscript>/.exec(html)?.[0] ?? '';
  expect(whole.match(/class="node still /g)?.length).toBe(WIDTH * LAYERS);
  expect(whole).toMatch(new RegExp(`data-step="${far}" data-status="running"`));
  const first = /<svg [^>]*data-static[^>]*class="graph js-only"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
  const firstNodes = first.match(/class="node still /g)?.length ?? 0;
  expect(firstNodes).toBeGreaterThan(0);
  expect(firstNodes).toBeLessThan(WIDTH * LAYERS * 0.7);
  expect(first).toMatch(new RegExp(`data-step="${near}" data-status="running"`));
  expect(first).not.toContain(`data-step="${far}"`);

  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto(`/runs/${run}`);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  await expect(page.locator('svg.graph[data-static]')).toHaveCount(0);
  const drawn = await page.locator('svg.graph g.node').count();
  expect(drawn).toBeGreaterThan(0);
  expect(drawn).toBeLessThan(WIDTH * LAYERS / 2);
  const nearNode = page.locator(`svg.graph g.node[data-step="${near}"]`);
  await expect(nearNode).toHaveAttribute('data-status', 'running');
  await expect(nearNode.locator('.node-percent')).toHaveText('40%');
  await expect(page.locator(`svg.graph g.node[data-step="${far}"]`)).toHaveCount(0);
  // That first drawing holds what is on screen, without the margin kept for scrolling (it is
  // built before the page goes live); the first scroll adds the margin beyond the window.
  const beyond = (px: number) =>
    page.evaluate((px) => {
      const box = document.querySelector('.graph-wrap')!.getBoundingClientRect();
      const [top, bottom] = [Math.max(box.top, 0), Math.min(box.bottom, innerHeight)];
      return [...document.querySelectorAll('svg.graph g.node')].filter((node) => {
        const r = node.getBoundingClientRect();
        return r.right < box.left - px || r.left > box.right + px || r.bottom < top - px || r.top > bottom + px;
      }).length;
    }, px);
  expect(await beyond(120)).toBe(0);
  await page.evaluate(() => window.scrollBy(0, 40));
  await expect.poll(() => beyond(120)).toBeGreaterThan(0);

  // Live: a drawn node follows its events.
  await progress(page.request, run, near, 55);
  await expect(nearNode.locator('.node-percent')).toHaveText('55%');
  await screenshot(page, 'big-graph-start');

  // Scrolled to the far end, the far node is drawn with its current state.
  await page.locator('.graph-wrap').evaluate((wrap) => {
    wrap.scrollLeft = wrap.scrollWidth;
  });
  const farNode = page.locator(`svg.graph g.node[data-step="${far}"]`);
  await expect(farNode).toHaveAttribute('data-status', 'running');
  await expect(farNode.locator('.node-percent')).toHaveText('70%');
  await expect(nearNode).toHaveCount(0);
  await screenshot(page, 'big-graph-scrolled');

  // Fit: the whole graph in view, every node drawn (live), text hidden at this scale.
  await page.locator('.graph-tools .zoom-fit').click();
  await expect(page.locator('svg.graph g.node')).toHaveCount(WIDTH * LAYERS);
  await expect(page.locator('.graph-wrap')).toHaveClass(/graph-far/);
  await expect(nearNode).toHaveAttribute('data-status', 'running');
  await screenshot(page, 'big-graph-fit');
});

test('a wide fan-out is drawn as one node with counts that follow its steps live', async ({ page }) => {
  const run = `fan-${Date.now()}`;
  const shards = Array.from({ length: 60 }, (_, i) => `shard-${i}`);
  const steps = [
    { id: 'split', needs: [] },
    ...shards.map((id) => ({ id, needs: ['split'] })),
    { id: 'merge', needs: shards },
  ];
  expect((await page.request.post('/api/v1/runs', { data: { id: run, name: 'fan-out', steps } })).status()).toBe(201);
  const post = async (events: object[]) => {
    const answer = await page.request.post(`/api/v1/runs/${run}/events`, { data: events });
    expect(answer.ok()).toBe(true);
  };
  const finished = (ids: string[]) => ids.map((step) => ({ type: 'step.finished', step, status: 'success' }));
  await post([{ type: 'run.started' }, ...finished(['split']), ...finished(shards.slice(0, 3))]);
  await post(shards.slice(3, 5).map((step) => ({ type: 'step.progress', step, progress: 50 })));

  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto(`/runs/${run}`);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  await expect(page.locator('svg.graph g.node')).toHaveCount(3);
  const fan = page.locator('svg.graph g.node[data-step="fan-out:shard-0"]');
  await expect(fan).toHaveAttribute('data-status', 'running');
  await expect(fan.locator('.node-name')).toHaveText('shard… ×60');
  await expect(fan.locator('.node-detail')).toHaveText(/^3\/60 done/);
  // (3 × 100 + 2 × 50) / 60 = 6.7 %, shown whole.
  await expect(fan.locator('.node-percent')).toHaveText('6%');
  // Its panel lists every member, each opening its own panel.
  await fan.locator('a.node-link').click();
  const panel = page.locator('aside.fan-out-panel');
  await expect(panel.locator('h2')).toHaveText('shard… ×60');
  await expect(panel.locator('.fan-out-members li')).toHaveCount(60);
  await expect(panel.locator('li[data-step="shard-0"]')).toHaveAttribute('data-status', 'success');
  await expect(panel.locator('li[data-step="shard-4"] .member-percent')).toHaveText('50%');
  await expect(panel.locator('.fan-out-counts')).toHaveText(/^3\/60 done/);
  await expect(page.locator('svg.graph g.marker[data-from="fan-out:shard-0"][data-to="merge"]')).toHaveCount(1);

  await post(finished(shards.slice(3, 13)));
  await expect(fan.locator('.node-detail')).toHaveText(/^13\/60 done/);
  await expect(panel.locator('.fan-out-counts')).toHaveText(/^13\/60 done/);
  await expect(panel.locator('li[data-step="shard-4"]')).toHaveAttribute('data-status', 'success');
  await screenshot(page, 'fan-out-running');
  await panel.locator('li[data-step="shard-7"] a').click();
  await expect(page.locator('aside.node-panel[data-step="shard-7"]')).toBeVisible();
  await expect(page).toHaveURL(/\?step=shard-7$/);

  await post(finished(shards.slice(13)));
  await expect(fan).toHaveAttribute('data-status', 'success');
  await expect(fan.locator('.node-percent')).toHaveText('100%');
  await expect(page.locator('svg.graph path.edge[data-from="fan-out:shard-0"]')).toHaveClass(/edge-success/);
});
