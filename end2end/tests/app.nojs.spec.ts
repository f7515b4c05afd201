// End-to-end tests with JavaScript disabled (project "nojs"): everything a
// person needs must come in the server-rendered HTML, and plain forms and links
// must work. (The test code itself may still read the DOM; the page runs no scripts.)
import type { Page } from '@playwright/test';
import {
  DEMO_PIPELINES,
  DEPLOY_WEB_CHAIN,
  RUN_URL,
  RunWatcher,
  TERMINAL,
  checkStaticGraph,
  expect,
  parsePercent,
  readEdges,
  snapshotRun,
  test,
  type Edge,
} from './helpers';

/**
 * Reload the run page about once a second until the run is finished (bounded),
 * checking every server-rendered state with a RunWatcher.
 */
async function pollRunByReloading(page: Page, runUrl: string, edges: Edge[], timeoutMs: number) {
  const watcher = new RunWatcher(edges);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await page.goto(runUrl);
    watcher.observe(await snapshotRun(page));
    if (watcher.finished) break;
    await page.waitForTimeout(800);
  }
  return watcher;
}

/** Submit the start form of a pipeline (plain HTML form post); returns the run URL. */
async function startRunWithoutJs(page: Page, pipeline: string, params: Record<string, string> = {}) {
  await page.goto(`/pipelines/${pipeline}`);
  const form = page.locator('form.start-run');
  for (const [key, value] of Object.entries(params)) {
    const field = form.locator(`[name="params[${key}]"]`);
    const tag = await field.first().evaluate((e) => e.tagName.toLowerCase());
    const type = await field.first().getAttribute('type');
    if (tag === 'select') await field.selectOption(value);
    else if (type === 'radio') await form.locator(`[name="params[${key}]"][value="${value}"]`).check();
    else await field.fill(value);
  }
  await form.locator('button[type=submit]', { hasText: 'Start run' }).click();
  await page.waitForURL(RUN_URL, { timeout: 20_000 });
  return page.url().replace(/[?#].*$/, '');
}

test('GET /healthz answers 200', async ({ request }) => {
  const res = await request.get('/healthz');
  expect(res.status()).toBe(200);
});

test('home page lists the demo pipelines without JavaScript', async ({ page }) => {
  await page.goto('/');
  const list = page.locator('ul.pipeline-list');
  await expect(list).toBeVisible();
  for (const id of DEMO_PIPELINES) {
    await expect(list.locator(`li a[href="/pipelines/${id}"]`).first()).toBeVisible();
  }
  // A plain link leads to the pipeline page.
  await list.locator('a[href="/pipelines/build-matrix"]').first().click();
  await expect(page).toHaveURL(/\/pipelines\/build-matrix$/);
  await expect(page.locator('svg.graph')).toBeVisible();
});

for (const id of DEMO_PIPELINES) {
  test(`pipeline page ${id}: graph and start form are server-rendered`, async ({ page, request }) => {
    // The raw HTML already carries the graph, before any script could run.
    const res = await request.get(`/pipelines/${id}`);
    expect(res.status()).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/<svg[^>]*class="[^"]*\bgraph\b/);
    expect(html).toMatch(/<form[^>]*class="[^"]*\bstart-run\b/);

    await page.goto(`/pipelines/${id}`);
    const { nodes, edges } = await checkStaticGraph(page);
    for (const step of nodes.keys()) expect(html).toContain(`data-step="${step}"`);
    for (const e of edges) expect(html).toContain(`data-from="${e.from}"`);
    if (id === 'deploy-web') expect([...nodes.keys()].sort()).toEqual([...DEPLOY_WEB_CHAIN].sort());
    const button = page.locator('form.start-run button[type=submit]:not([name=plan])');
    await expect(button).toHaveText(/Start run/);
  });
}

test('deploy-web: start without JS, follow the run by reloading, open a step panel via ?step=', async ({ page }) => {
  test.setTimeout(120_000);
  const runUrl = await startRunWithoutJs(page, 'deploy-web', { environment: 'production' });

  // The landing page is a complete, server-rendered run view.
  await expect(page.locator('.run-header')).toBeVisible();
  await expect(page.locator('.run-header .run-status')).toHaveAttribute('data-status', /^(pending|running|success)$/);
  await expect(page.locator('.run-header .run-percent')).toHaveText(/^\s*\d{1,3}\s*%\s*$/);
  await expect(page.locator('.run-header .run-elapsed')).toBeAttached();
  await expect(page.locator('svg.graph g.node[data-step]')).toHaveCount(DEPLOY_WEB_CHAIN.length);
  const edges = await readEdges(page);
  expect(edges.length).toBe(DEPLOY_WEB_CHAIN.length - 1);

  const watcher = await pollRunByReloading(page, runUrl, edges, 90_000);
  expect(watcher.violations, 'server-rendered states are consistent').toEqual([]);
  expect(watcher.finished, `run finished within the bound (last: ${JSON.stringify(watcher.last)})`).toBe(true);
  expect(watcher.last!.run).toBe('success');
  expect(parsePercent(watcher.last!.percent)).toBe(100);
  expect(watcher.snapshots, 'saw the run in progress').toBeGreaterThanOrEqual(3);
  expect(watcher.finishedCounts.size, 'saw intermediate states').toBeGreaterThanOrEqual(2);

  // A node is a plain link to ?step=<id>; the panel is rendered by the server,
  // and the step's log shows the parameter chosen in the form.
  await page.locator('svg.graph g.node[data-step="starting-container"]').click();
  await expect(page).toHaveURL(/[?&]step=starting-container(&|$)/);
  const panel = page.locator('aside.node-panel[data-step="starting-container"]');
  await expect(panel).toBeVisible();
  await expect(panel.locator('.panel-status')).toHaveText(/success/i);
  expect(await panel.locator('.log-lines .log-line').count()).toBeGreaterThan(0);
  await expect(panel.locator('.log-lines')).toContainText('Deploy target: production');

  // The same by typing the URL.
  await page.goto(`${runUrl}?step=stopped`);
  await expect(page.locator('aside.node-panel[data-step="stopped"] .panel-status')).toHaveText(/success/i);
  expect(await page.locator('aside.node-panel[data-step="stopped"] .log-line').count()).toBeGreaterThan(0);

  // The timeline comes with the page: one bar per step, in order, each marked by its status
  // and its icon, with its duration.
  const rows = page.locator('section.gantt li.gantt-row');
  await expect(rows).toHaveCount(DEPLOY_WEB_CHAIN.length);
  expect(await rows.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-step')))).toEqual(DEPLOY_WEB_CHAIN);
  for (const row of await rows.all()) {
    await expect(row).toHaveAttribute('data-status', 'success');
    await expect(row).toHaveAttribute('aria-label', /: success$/);
    await expect(row.locator('.gantt-icon path')).toHaveAttribute('d', /\S/);
    await expect(row.locator('.gantt-bar')).toHaveCount(1);
    await expect(row.locator('.gantt-label')).toHaveText(/\d/);
  }

  // The deployments board lists the run with its parameters and every stage done.
  const id = runUrl.match(RUN_URL)![1];
  await page.goto('/deployments');
  const row = page.locator(`li.board-row[data-run="${id}"]`);
  await expect(row).toHaveAttribute('data-status', 'success');
  await expect(row.locator('.board-param')).toHaveText('environment: production');
  await expect(row.locator('.board-time')).toHaveText(/^Succeeded in /);
  const stages = await row.locator('li.stage').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-status')));
  expect(stages.length).toBeGreaterThan(0);
  expect(new Set(stages)).toEqual(new Set(['success']));
});

test('without JavaScript a running run says it is a static view and refreshes itself', async ({ page }) => {
  test.setTimeout(120_000);
  const runUrl = await startRunWithoutJs(page, 'deploy-web');
  const note = page.locator('.static-note');
  await expect(note).toBeVisible();
  await expect(note).toContainText('Static view');
  await expect(note.locator('a', { hasText: 'Reload' })).toHaveAttribute('href', '');
  await expect(page.locator('.conn'), 'no live indicator that would never go live').toBeHidden();
  await expect(page.locator('meta[http-equiv="refresh"]')).toHaveAttribute('content', '10');
  // The page reloads itself while the run is in progress.
  const reloaded = page.waitForEvent('load', { timeout: 20_000 });
  await reloaded;
  await expect(note).toBeVisible();

  // Once the run has finished the note stays, the refresh goes.
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    await page.goto(runUrl);
    const status = await page.locator('.run-header .run-status').getAttribute('data-status');
    if (TERMINAL.has(status ?? '')) break;
    await page.waitForTimeout(1_000);
  }
  await expect(page.locator('.static-note')).toBeVisible();
  expect(await page.locator('meta[http-equiv="refresh"]').count()).toBe(0);
});

test('etl-orders: a warning in one step ends the run as warning, downstream still runs', async ({ page }) => {
  test.setTimeout(120_000);
  const runUrl = await startRunWithoutJs(page, 'etl-orders');
  const edges = await readEdges(page);
  const watcher = await pollRunByReloading(page, runUrl, edges, 90_000);
  expect(watcher.violations, 'server-rendered states are consistent').toEqual([]);
  expect(watcher.finished, `run finished within the bound (last: ${JSON.stringify(watcher.last)})`).toBe(true);
  const last = watcher.last!;
  expect(last.run).toBe('warning');
  expect(parsePercent(last.percent)).toBe(100);
  expect(last.steps['validate']).toBe('warning');
  for (const [step, st] of Object.entries(last.steps)) {
    if (step !== 'validate') expect(st, `step ${step}`).toBe('success');
    expect(TERMINAL.has(st)).toBe(true);
  }
});

test("the runs filters show the URL's choices without JavaScript", async ({ page }) => {
  await page.goto('/?pipeline=etl-orders&status=failed&day=2026-12-01');
  const form = page.locator('form.run-filters');
  await expect(form.locator('select[name="pipeline"]')).toHaveValue('etl-orders');
  await expect(form.locator('select[name="status"]')).toHaveValue('failed');
  await expect(form.locator('input[name="day"]')).toHaveValue('2026-12-01');
  await page.goto('/');
  await expect(form.locator('select[name="status"]')).toHaveValue('');
});

test('a big graph is there whole without JavaScript', async ({ page }) => {
  const run = `big-nojs-${Date.now()}`;
  // A chain of 320 steps: a graph far wider than any screen.
  const steps = Array.from({ length: 320 }, (_, i) => ({ id: `s${i}`, needs: i ? [`s${i - 1}`] : [] }));
  const created = await page.request.post('/api/v1/runs', { data: { id: run, name: 'Long chain', steps } });
  expect(created.status()).toBe(201);
  await page.goto(`/runs/${run}`);
  const shown = page.locator('svg.graph:visible');
  await expect(shown).toHaveCount(1);
  await expect(shown.locator('g.node')).toHaveCount(320);
  await expect(shown.locator('g.node[data-step="s319"]')).toHaveAttribute('data-status', 'pending');
});
