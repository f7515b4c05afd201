// The bundle's files (project "nojs": plain requests): named after their content's hash, so
// browsers keep them for a year; pages name the current ones, the split loader its parts.
import { expect, test } from './helpers';

test('the bundle is served under content-hashed names with long-lived cache headers', async ({ page, request }) => {
  await page.goto('/');
  const html = await page.content();
  const files = [...new Set(html.match(/\/pkg\/signalbox\.[A-Za-z0-9_-]+\.(?:js|wasm|css)/g) ?? [])];
  expect(files.map((f) => f.split('.').pop()).sort()).toEqual(['css', 'js', 'wasm']);
  for (const file of files) {
    const answer = await request.get(file);
    expect(answer.status(), file).toBe(200);
    expect(answer.headers()['cache-control'], file).toBe('public, max-age=31536000, immutable');
  }
  // The lazily loaded parts (`--split`: each page's view, the chunks pages share) are named
  // after their hashes too: the main script imports their loader, which names every part.
  const script = await (await request.get(files.find((f) => f.endsWith('.js')) as string)).text();
  const loader = script.match(/__wasm_split\.[A-Za-z0-9_-]+\.js/)?.[0];
  expect(loader, 'the split loader').toBeTruthy();
  const loaderAnswer = await request.get(`/pkg/${loader}`);
  expect(loaderAnswer.headers()['cache-control'], loader).toBe('public, max-age=31536000, immutable');
  const parts = [...new Set((await loaderAnswer.text()).match(/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}\.wasm/g) ?? [])];
  for (const view of ['home', 'pipeline', 'run', 'deployments', 'login', 'audit']) {
    expect(parts.some((p) => p.startsWith(`split_${view}_view.`)), `${view} page's part`).toBe(true);
  }
  for (const part of parts) {
    const answer = await request.get(`/pkg/${part}`);
    expect(answer.status(), part).toBe(200);
    expect(answer.headers()['cache-control'], part).toBe('public, max-age=31536000, immutable');
  }
  // Unhashed names are gone: a stale page cannot load a mismatched bundle by accident.
  expect((await request.get('/pkg/signalbox.wasm')).status()).toBe(404);
});
