// An external producer's ad-hoc run (project "js"): a job Signalbox does not run creates its
// run over HTTP and reports its steps; an open page follows every report live, retries and
// steps added on the way included, without reloading.
import { expect, screenshot, test } from './helpers';

test('an external producer\'s ad-hoc run is followed live, retries and all', async ({ page }) => {
  const run = `producer-${Date.now()}`;
  const steps = [
    { id: 'fetch', name: 'Fetch sources' },
    { id: 'import', name: 'Import rows', needs: ['fetch'] },
    { id: 'publish', name: 'Publish', needs: ['import'] },
  ];
  const created = await page.request.post('/api/v1/runs', { data: { id: run, name: 'Nightly import', steps } });
  expect(created.status()).toBe(201);
  const post = async (events: object | object[]) => {
    const answer = await page.request.post(`/api/v1/runs/${run}/events`, { data: events });
    expect(answer.ok(), await answer.text()).toBe(true);
  };

  await page.setViewportSize({ width: 1400, height: 800 });
  await page.goto(`/runs/${run}`);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  const node = (step: string) => page.locator(`svg.graph g.node[data-step="${step}"]`);
  await expect(node('fetch')).toHaveAttribute('data-status', 'pending');

  await post([{ type: 'run.started' }, { type: 'step.started', step: 'fetch' }]);
  await expect(node('fetch')).toHaveAttribute('data-status', 'running');
  await post({ type: 'step.progress', step: 'fetch', progress: 40, message: 'mirror 2/5' });
  await expect(node('fetch').locator('.node-percent')).toHaveText('40%');
  await expect(node('fetch').locator('.node-detail')).toHaveText('mirror 2/5');
  await expect(node('fetch').locator('.node-attempt')).toHaveCount(0);

  // The producer retries the step: the node restarts from 0 % and wears its attempt.
  await post({ type: 'step.started', step: 'fetch', attempt: 2, max_attempts: 3 });
  await expect(node('fetch').locator('.node-attempt')).toHaveText('↻ 2/3');
  await expect(node('fetch').locator('.node-percent')).toHaveText('0%');
  await expect(node('fetch')).toHaveAttribute('aria-label', /attempt 2\/3/);
  await node('fetch').locator('a.node-link').click();
  const panel = page.locator('aside.node-panel[data-step="fetch"]');
  await expect(panel.locator('dt:text-is("Attempt") + dd')).toHaveText('2 of 3');
  await expect(panel.locator('.panel-attempts li')).toHaveCount(2);
  await expect(panel.locator('.panel-attempts li').first()).toContainText('Attempt 1:');
  await expect(panel.locator('.panel-attempts li').first()).toContainText('then retried');
  await expect(panel.locator('.panel-attempts li').last()).toContainText('so far');
  await post({ type: 'step.log', step: 'fetch', lines: ['mirror a ok', 'mirror b ok'] });
  await expect(panel.locator('.log-line')).toHaveCount(2);
  const download = panel.locator('a[download]');
  const file = await page.request.get((await download.getAttribute('href')) ?? '');
  expect(await file.text()).toBe('mirror a ok\nmirror b ok\n');
  // Warnings line up in the open panel as they arrive.
  await expect(panel.locator('.panel-warnings')).toHaveCount(0);
  await post({ type: 'step.warning', step: 'fetch', message: 'mirror c slow' });
  await expect(panel.locator('.panel-warnings li')).toHaveText(['mirror c slow']);
  await post({ type: 'step.warning', step: 'fetch', message: 'mirror d <skipped>' });
  await expect(panel.locator('.panel-warnings li')).toHaveText(['mirror c slow', 'mirror d <skipped>']);
  await post({ type: 'step.progress', step: 'fetch', progress: 75, rows: 1200 });
  await expect(node('fetch').locator('.node-percent')).toHaveText('75%');
  await expect(page.locator('svg.graph g.marker[data-from="fetch"][data-to="import"]')).toHaveCount(1);
  await screenshot(page, 'producer-retry');

  await post([
    { type: 'step.finished', step: 'fetch', status: 'done' },
    { type: 'step.progress', step: 'import', progress: 50, rows: 5000 },
  ]);
  // Done after warnings is a warning (PROTOCOL.md).
  await expect(node('fetch')).toHaveAttribute('data-status', 'warning');
  await expect(node('fetch').locator('.node-attempt')).toHaveText('↻ 2/3');
  await expect(node('import')).toHaveAttribute('data-status', 'running');
  // The producer discovers a step it had not declared: the graph grows on the open page.
  await post({ type: 'run.steps_added', steps: [{ id: 'verify', name: 'Verify counts', needs: ['import'] }] });
  await expect(node('verify')).toHaveAttribute('data-status', 'pending', { timeout: 10_000 });
  await expect(node('verify').locator('.node-name')).toHaveText('Verify counts');
  await expect(page.locator('svg.graph path.edge[data-from="import"][data-to="verify"]')).toHaveCount(1);
  await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 30_000 });
  await post({ type: 'step.progress', step: 'verify', progress: 60 });
  await expect(node('verify').locator('.node-percent')).toHaveText('60%');
  await screenshot(page, 'producer-grown');
  await post([
    { type: 'step.finished', step: 'import', status: 'completed' },
    { type: 'step.finished', step: 'verify', status: 'success' },
    { type: 'step.finished', step: 'publish', status: 'success' },
    { type: 'run.finished', status: 'success' },
  ]);
  await expect(node('publish')).toHaveAttribute('data-status', 'success');
  await expect(page.locator('.run-header')).toContainText(/success/i);
});
