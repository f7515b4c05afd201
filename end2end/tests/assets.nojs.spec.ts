// The bundle's files (project "nojs": plain requests): named after their content's hash, so
// browsers keep them for a year; pages name the current ones and preload their own split parts.
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
  // The page's own part of the bundle (cut out by `--split`) is preloaded with it, under hashed
  // names too: the home page's view, the chunks it shares with other pages, their loader.
  const parts = [...new Set(html.match(/\/pkg\/(?:split_|chunk_|__wasm_split)[A-Za-z0-9_.-]+\.(?:js|wasm)/g) ?? [])];
  expect(parts.some((p) => p.includes('split___home_route_view')), parts.join(' ')).toBe(true);
  expect(parts.some((p) => p.includes('split___run_route_view')), 'only the page\'s own view').toBe(false);
  expect(parts.some((p) => p.startsWith('/pkg/__wasm_split.')), parts.join(' ')).toBe(true);
  for (const file of parts) {
    const answer = await request.get(file);
    expect(answer.status(), file).toBe(200);
    expect(answer.headers()['cache-control'], file).toBe('public, max-age=31536000, immutable');
  }
  // Unhashed names are gone: a stale page cannot load a mismatched bundle by accident.
  expect((await request.get('/pkg/signalbox.wasm')).status()).toBe(404);
});
