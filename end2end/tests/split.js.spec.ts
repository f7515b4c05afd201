// The bundle split by page (project "js"): a tab whose next page's part of the bundle is gone
// (a newer build replaced the files since the tab opened) loads that page afresh instead of
// going dead, and a part missing even from a fresh page never reloads it in a loop.
import { test as plain } from '@playwright/test';
import { expect, test } from './helpers';

const PIPELINE_PART = /\/pkg\/split_pipeline_view\.[A-Za-z0-9_-]+\.wasm$/;

test('a page whose part of the bundle is gone is loaded afresh, and works', async ({ page }) => {
  let refused = 0;
  // Refused to this tab's router (which tries twice: before and while showing the page), then
  // served again, as a fresh page of a newer build would get its own part.
  await page.route(PIPELINE_PART, (route) => {
    if (refused < 2) {
      refused++;
      return route.fulfill({ status: 404, body: 'gone' });
    }
    return route.continue();
  });
  let loads = 0;
  page.on('load', () => loads++);
  await page.goto('/');
  // Hydrated (the system panel's connection is live): the router takes the click.
  await expect(page.locator('[data-live="true"]').first()).toBeAttached({ timeout: 15_000 });
  const link = page.locator('a[href="/pipelines/build-matrix"]').first();
  await link.click();
  await expect(page).toHaveURL(/\/pipelines\/build-matrix$/);
  await expect(page.locator('h1').first()).not.toHaveText('Pipelines');
  expect(refused).toBe(2);
  // (Its HTML shows before its `load` event, which waits for the bundle.)
  await expect.poll(() => loads, { message: 'the home page, then the pipeline page afresh from the server' }).toBe(2);
  // The fresh page hydrated with the part it could load this time: zoom works.
  const tools = page.locator('.graph-tools');
  await expect(tools.locator('.zoom-level')).toHaveText('auto');
  await tools.locator('.zoom-in').click();
  await expect(tools.locator('.zoom-level')).not.toHaveText('auto');
});

// (Without the helpers' check for errors in the browser: a fresh page without its part fails
// to hydrate, by design, and says so in the console.)
plain('a part missing even from a fresh page loads it afresh once, never in a loop', async ({ page }) => {
  await page.route(PIPELINE_PART, (route) => route.fulfill({ status: 404, body: 'gone' }));
  let loads = 0;
  page.on('load', () => loads++);
  await page.goto('/');
  // Hydrated (the system panel's connection is live): the router takes the click.
  await expect(page.locator('[data-live="true"]').first()).toBeAttached({ timeout: 15_000 });
  await page.locator('a[href="/pipelines/build-matrix"]').first().click();
  await expect(page).toHaveURL(/\/pipelines\/build-matrix$/);
  await page.waitForTimeout(4_000);
  expect(loads, 'the home page, then one fresh load').toBe(2);
  // The page is still the server's, whole and readable.
  await expect(page.locator('svg.graph g.node').first()).toBeVisible();
});

test('a page names the parts it needs in its head, and each is fetched once, from the start', async ({ page, request }) => {
  const html = await (await request.get('/deployments')).text();
  const head = html.slice(0, html.indexOf('</head>'));
  const preloaded = [...head.matchAll(/<link rel="preload" href="([^"]+\.wasm)" as="fetch" type="application\/wasm" crossorigin=""/g)].map((m) => m[1]);
  expect(preloaded.some((href) => /\/pkg\/split_deployments_view\./.test(href)), "the page's own part").toBe(true);
  expect(preloaded.some((href) => /\/pkg\/split_run_view\./.test(href)), "another page's part").toBe(false);
  expect(head).toMatch(/<link rel="modulepreload" href="\/pkg\/__wasm_split\.[A-Za-z0-9_-]+\.js">/);

  const fetched = new Map<string, number>();
  page.on('request', (r) => {
    const path = new URL(r.url()).pathname;
    if (path.endsWith('.wasm')) fetched.set(path, (fetched.get(path) ?? 0) + 1);
  });
  await page.goto('/deployments');
  await expect(page.locator('ol.board')).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  const parts = [...fetched.keys()].filter((path) => !/\/pkg\/signalbox\./.test(path));
  // The preloads are the very requests the loader makes (a mismatch would fetch twice).
  expect(parts.length).toBeGreaterThan(0);
  for (const part of parts) expect(preloaded, part).toContain(part);
  for (const [path, times] of fetched) expect(times, path).toBe(1);
});
