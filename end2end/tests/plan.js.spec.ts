// Dry run (project "js"): the pipeline page shows what a run with the form's parameters would
// do, on the graph and in words, without starting anything.
import { expect, screenshot, test } from './helpers';

test('a dry run draws the plan on the graph: waves, and the steps a parameter skips', async ({ page }) => {
  const runs = async () => (await (await page.request.get('/api/v1/runs?pipeline=build-matrix&limit=1000')).json()).length;
  const before = await runs();
  await page.setViewportSize({ width: 1600, height: 900 });
  await page.goto('/pipelines/build-matrix');
  const form = page.locator('form.start-run');
  await form.locator('select[name="params[publish]"]').selectOption('no');
  await form.getByRole('button', { name: 'Dry run' }).click();
  await expect(page).toHaveURL(/[?&]plan=1/);
  await expect(page).toHaveURL(/params%5Bpublish%5D=no/);
  const plan = page.locator('section.plan');
  await expect(plan.locator('h2')).toHaveText('Dry run with publish = no: nothing was executed');
  // checkout; three builds, lint, docs; three tests; package. Publish is skipped.
  await expect(plan.locator('.plan-waves li')).toHaveCount(4);
  await expect(plan.locator('.plan-waves li').first()).toHaveText('Wave 1 Checkout');
  await expect(plan.locator('li[data-step="publish"]')).toContainText('`publish` is "no"; runs only for yes');
  const node = (step: string) => page.locator(`svg.graph g.node[data-step="${step}"]`);
  await expect(node('publish')).toHaveAttribute('data-status', 'skipped');
  await expect(node('publish').locator('.node-detail')).toHaveText('would be skipped');
  await expect(node('checkout').locator('.node-detail')).toHaveText('wave 1');
  await expect(node('package').locator('.node-detail')).toHaveText('wave 4');
  await expect(form.locator('select[name="params[publish]"]')).toHaveValue('no');
  await screenshot(page, 'dry-run');

  // Nothing ran, and closing the dry run brings the plain graph back.
  expect(await runs()).toBe(before);
  await plan.getByRole('link', { name: 'Close dry run' }).click();
  await expect(page).toHaveURL(/\/pipelines\/build-matrix$/);
  await expect(page.locator('section.plan')).toHaveCount(0);
  await expect(node('publish')).toHaveAttribute('data-status', 'pending');
});
