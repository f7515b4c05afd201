// The bundle's files (project "nojs": plain requests): named after their content's hash, so
// browsers keep them for a year; pages name the current ones.
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
  // Unhashed names are gone: a stale page cannot load a mismatched bundle by accident.
  expect((await request.get('/pkg/signalbox.wasm')).status()).toBe(404);
});
