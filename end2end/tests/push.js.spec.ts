// Push, not polling (project "js"): while its live connection is healthy, a page asks the
// server for nothing; every change arrives over its WebSocket.
import { expect, startRun, test } from './helpers';

test('live pages make no requests while their socket is healthy, and still change', async ({ page }) => {
  test.setTimeout(90_000);
  let frames = 0;
  page.on('websocket', (socket) => socket.on('framereceived', () => frames++));
  const requests: string[] = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    // Code fetched ahead of need (the next page's part of the bundle) is not data.
    if (request.resourceType() !== 'websocket' && !url.pathname.startsWith('/pkg/')) requests.push(url.pathname);
  });
  await startRun(page, 'deploy-web');
  const pages = [
    { name: 'run', live: page.locator('.conn[data-state="live"]') },
    { name: 'home', path: '/', live: page.locator('.system-panel[data-live="true"]') },
    { name: 'board', path: '/deployments', live: page.locator('ol.board[data-live="true"]') },
  ];
  for (const { name, path, live } of pages) {
    if (path) await page.goto(path);
    await expect(live, name).toBeAttached({ timeout: 30_000 });
    // Something to push: a fresh deployment (the API call is the test's, not the page's).
    if (path) expect((await page.request.post('/api/v1/runs', { data: { pipeline: 'deploy-web' } })).status()).toBe(201);
    requests.length = 0;
    const before = frames;
    await page.waitForTimeout(4_000);
    expect(requests, `${name}: requests while live`).toEqual([]);
    expect(frames - before, `${name}: frames pushed meanwhile`).toBeGreaterThan(0);
  }
});
