// End-to-end tests with JavaScript enabled (project "js"): the hydrated app,
// live updates over the WebSocket, client-side navigation, marker geometry.
// Full-page screenshots for humans land in end2end/test-results/screens/.
import type { Page } from '@playwright/test';
import {
  DEMO_PIPELINES,
  DEPLOY_WEB_CHAIN,
  RunWatcher,
  checkStaticGraph,
  expect,
  parsePercent,
  readEdges,
  screenshot,
  snapshotRun,
  startRun,
  test,
  type Edge,
} from './helpers';

const WIDE = { width: 1600, height: 900 };
const NARROW = { width: 420, height: 900 };
/** A wall screen in an operations room. */
const WALL = { width: 2560, height: 1440 };

/**
 * Poll the run page every ~150 ms until the run reaches a terminal status
 * (bounded by `timeoutMs`), feeding every snapshot to a RunWatcher.
 * `onSnapshot` may take screenshots or similar along the way.
 */
async function watchRun(
  page: Page,
  edges: Edge[],
  timeoutMs: number,
  onSnapshot?: (w: RunWatcher) => Promise<void>,
): Promise<RunWatcher> {
  const watcher = new RunWatcher(edges);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    watcher.observe(await snapshotRun(page));
    if (onSnapshot) await onSnapshot(watcher);
    if (watcher.finished) break;
    await page.waitForTimeout(150);
  }
  return watcher;
}

/** Page geometry of a pipeline graph, in CSS pixels. */
async function graphGeometry(page: Page) {
  return page.evaluate(() => {
    const rect = (e: Element) => {
      const r = e.getBoundingClientRect();
      return { x: r.x, y: r.y, w: r.width, h: r.height };
    };
    const svg = document.querySelector('svg.graph')!;
    const nodes = Array.from(svg.querySelectorAll('g.node[data-step]')).map((n) => ({
      id: n.getAttribute('data-step')!,
      ...rect(n),
    }));
    const edges = Array.from(svg.querySelectorAll('path.edge')).map((p) => {
      const path = p as SVGPathElement;
      const len = path.getTotalLength();
      const m = path.getScreenCTM()!;
      const toPage = (pt: DOMPoint) => new DOMPoint(pt.x, pt.y).matrixTransform(m);
      const a = toPage(path.getPointAtLength(0));
      const b = toPage(path.getPointAtLength(len));
      return { from: p.getAttribute('data-from')!, to: p.getAttribute('data-to')!, len, ax: a.x, ay: a.y, bx: b.x, by: b.y };
    });
    return { svg: rect(svg), nodes, edges };
  });
}

test.describe('pages', () => {
  test('home lists the demo pipelines and links to them', async ({ page }) => {
    await page.setViewportSize(WIDE);
    await page.goto('/');
    const list = page.locator('ul.pipeline-list');
    await expect(list).toBeVisible();
    expect(await list.locator('li').count()).toBeGreaterThanOrEqual(DEMO_PIPELINES.length);
    for (const id of DEMO_PIPELINES) {
      await expect(list.locator(`li a[href="/pipelines/${id}"]`).first()).toBeVisible();
    }
    await screenshot(page, 'home-wide');

    // Following a link (client-side navigation once hydrated) shows the graph.
    await list.locator('a[href="/pipelines/deploy-web"]').first().click();
    await expect(page).toHaveURL(/\/pipelines\/deploy-web$/);
    await expect(page.locator('svg.graph g.node')).toHaveCount(DEPLOY_WEB_CHAIN.length);
  });

  for (const id of DEMO_PIPELINES) {
    test(`pipeline page draws the ${id} graph`, async ({ page }) => {
      await page.setViewportSize(WIDE);
      await page.goto(`/pipelines/${id}`);
      const { nodes, edges } = await checkStaticGraph(page);
      const ids = [...nodes.keys()];

      if (id === 'deploy-web') {
        expect(new Set(ids)).toEqual(new Set(DEPLOY_WEB_CHAIN));
        const chain = DEPLOY_WEB_CHAIN.slice(1).map((to, i) => `${DEPLOY_WEB_CHAIN[i]}->${to}`);
        expect(edges.map((e) => `${e.from}->${e.to}`).sort()).toEqual(chain.sort());
        await expect(page.locator('form.start-run [name="params[environment]"]')).toHaveCount(1);
      } else if (id === 'build-matrix') {
        expect(ids.length).toBeGreaterThanOrEqual(8);
        const outDeg = new Map<string, number>();
        const inDeg = new Map<string, number>();
        for (const e of edges) {
          outDeg.set(e.from, (outDeg.get(e.from) ?? 0) + 1);
          inDeg.set(e.to, (inDeg.get(e.to) ?? 0) + 1);
        }
        expect(Math.max(...outDeg.values()), 'some step fans out').toBeGreaterThanOrEqual(2);
        expect(Math.max(...inDeg.values()), 'some step fans in').toBeGreaterThanOrEqual(2);
      } else {
        expect(ids.length).toBeGreaterThanOrEqual(3);
        expect(edges.length).toBeGreaterThanOrEqual(2);
      }

      // The start form: a "Start run" submit button; visible fields are params[<key>].
      const form = page.locator('form.start-run');
      await expect(form.locator('button[type=submit]:not([name=plan])')).toHaveText(/Start run/);
      const names = await form
        .locator('input:not([type=hidden]):not([type=submit]), select, textarea')
        .evaluateAll((els) => els.map((e) => e.getAttribute('name') ?? ''));
      for (const n of names) expect(n, 'form field name').toMatch(/^params\[[^\]]+\]$/);

      // Layout sanity, as a person would see it: nodes inside the drawing and
      // not overlapping; edges flow forwards (right or down) and join their nodes.
      const geo = await graphGeometry(page);
      const byId = new Map(geo.nodes.map((n) => [n.id, n]));
      for (const n of geo.nodes) {
        expect(n.w, `node ${n.id} has a size`).toBeGreaterThan(0);
        expect(n.x >= geo.svg.x - 1 && n.x + n.w <= geo.svg.x + geo.svg.w + 1, `node ${n.id} inside the svg (x)`).toBe(true);
        expect(n.y >= geo.svg.y - 1 && n.y + n.h <= geo.svg.y + geo.svg.h + 1, `node ${n.id} inside the svg (y)`).toBe(true);
      }
      for (let i = 0; i < geo.nodes.length; i++) {
        for (let j = i + 1; j < geo.nodes.length; j++) {
          const a = geo.nodes[i];
          const b = geo.nodes[j];
          const overlap = a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1;
          expect(overlap, `nodes ${a.id} and ${b.id} overlap`).toBe(false);
        }
      }
      const near = (px: number, py: number, n: { x: number; y: number; w: number; h: number }, slack: number) =>
        px >= n.x - slack && px <= n.x + n.w + slack && py >= n.y - slack && py <= n.y + n.h + slack;
      for (const e of geo.edges) {
        const a = byId.get(e.from)!;
        const b = byId.get(e.to)!;
        expect(e.len, `edge ${e.from}->${e.to} has length`).toBeGreaterThan(1);
        const forwards = b.x + b.w / 2 > a.x + a.w / 2 + 1 || b.y + b.h / 2 > a.y + a.h / 2 + 1;
        expect(forwards, `edge ${e.from}->${e.to} flows forwards`).toBe(true);
        expect(near(e.ax, e.ay, a, 16), `edge ${e.from}->${e.to} starts at ${e.from}`).toBe(true);
        expect(near(e.bx, e.by, b, 16), `edge ${e.from}->${e.to} ends at ${e.to}`).toBe(true);
      }
      await screenshot(page, `pipeline-${id}-wide`);
    });
  }
});

test.describe('live runs', () => {
  test('deploy-web run started from the UI progresses step by step to success', async ({ page }) => {
    test.setTimeout(150_000);
    await page.setViewportSize(WIDE);
    const runId = await startRun(page, 'deploy-web');
    expect(runId).not.toBe('');
    await expect(page.locator('.run-header')).toBeVisible();
    await expect(page.locator('svg.graph g.node[data-step]')).toHaveCount(DEPLOY_WEB_CHAIN.length);
    const edges = await readEdges(page);
    await expect(page.locator('.conn'), 'live connection indicator').toHaveAttribute('data-state', 'live', {
      timeout: 20_000,
    });

    // Screenshots mid-run (a step running, some already done), wide then narrow.
    let shot = false;
    const watcher = await watchRun(page, edges, 100_000, async (w) => {
      const s = w.last!;
      const done = Object.values(s.steps).filter((st) => st === 'success').length;
      if (shot || done < 2 || !Object.values(s.steps).includes('running')) return;
      shot = true;
      await screenshot(page, 'run-wide');
      const graphWidth = async () => (await page.locator('svg.graph').boundingBox())?.width ?? 0;
      const onLaptop = await graphWidth();
      await page.setViewportSize(NARROW);
      await expect(page.locator('.run-header .run-status')).toBeInViewport();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow, 'no horizontal page scroll at 420 px (let the graph scroll in its own box)').toBeLessThanOrEqual(1);
      await screenshot(page, 'run-narrow');
      // On a wall screen the page grows with it, the graph drawn larger to be read from across
      // the room, and nothing scrolls sideways.
      await page.setViewportSize(WALL);
      expect(await graphWidth(), 'the graph grows on a wall screen').toBeGreaterThan(onLaptop * 1.4);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(wide).toBeLessThanOrEqual(1);
      await screenshot(page, 'run-wall');
      await page.setViewportSize(WIDE);
    });

    expect(watcher.violations, 'live view invariants').toEqual([]);
    expect(watcher.finished, `run finished within the bound (last: ${JSON.stringify(watcher.last)})`).toBe(true);
    const last = watcher.last!;
    expect(last.run).toBe('success');
    expect(parsePercent(last.percent)).toBe(100);
    expect(last.elapsed, '.run-elapsed shows something').not.toBe('');
    expect(Object.values(last.steps).every((st) => st === 'success'), JSON.stringify(last.steps)).toBe(true);
    // The chain finishes in its order, one step after another, and the view
    // showed the intermediate states (not just the final one).
    expect(watcher.finishOrder).toEqual(DEPLOY_WEB_CHAIN);
    expect(watcher.finishedCounts.size, 'saw steps finish one by one').toBeGreaterThanOrEqual(4);
    expect(watcher.seenRunning.size, 'saw steps running').toBeGreaterThanOrEqual(3);
    expect(watcher.maxConcurrent, 'a chain runs one step at a time').toBe(1);
    expect(shot, 'took the mid-run screenshots').toBe(true);
    // The run is over: the stream has nothing more to say, and the indicator says so.
    await expect(page.locator('.conn')).toHaveAttribute('data-state', 'final');
    await expect(page.locator('.conn')).toHaveText('Finished');
    await screenshot(page, 'run-done-wide');

    // A reload shows the finished run straight from the server.
    await page.reload();
    await expect(page.locator('.run-header .run-status')).toHaveAttribute('data-status', 'success');
    await expect(page.locator('.run-header .run-percent')).toHaveText(/^\s*100\s*%\s*$/);
  });

  test('build-matrix fans out in parallel, fans in, with one marker per outgoing edge', async ({ page }) => {
    test.setTimeout(150_000);
    await page.setViewportSize(WIDE);
    await startRun(page, 'build-matrix');
    const edges = await readEdges(page);
    expect(edges.length).toBeGreaterThan(0);
    // Fan-out: some running step with several outgoing edges, seen with all its markers.
    const outDeg = new Map<string, number>();
    for (const e of edges) outDeg.set(e.from, (outDeg.get(e.from) ?? 0) + 1);
    // The fan-out step (checkout) runs for about 3 s: the page itself watches every change for
    // it, so how often the test samples cannot miss it.
    await page.evaluate((fanOuts) => {
      const w = window as unknown as { fanOutSeen?: boolean };
      const check = () => {
        for (const [step, degree] of fanOuts) {
          const node = document.querySelector(`svg.graph g.node[data-step="${step}"]`);
          const markers = document.querySelectorAll(`svg.graph g.marker[data-from="${step}"]`).length;
          if (node?.getAttribute('data-status') === 'running' && markers === degree) w.fanOutSeen = true;
        }
      };
      check();
      new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true });
    }, [...outDeg].filter(([, degree]) => degree >= 2));
    const watcher = await watchRun(page, edges, 100_000);
    const sawFanOutMarkers = await page.evaluate(() => (window as unknown as { fanOutSeen?: boolean }).fanOutSeen === true);
    expect(watcher.violations, 'live view invariants').toEqual([]);
    expect(watcher.finished, `run finished within the bound (last: ${JSON.stringify(watcher.last)})`).toBe(true);
    expect(watcher.last!.run).toBe('success');
    expect(parsePercent(watcher.last!.percent)).toBe(100);
    expect(watcher.maxConcurrent, 'parallel branches run at the same time').toBeGreaterThanOrEqual(2);
    expect(watcher.maxConcurrent, 'max_parallel = 4 is honoured').toBeLessThanOrEqual(4);
    expect(sawFanOutMarkers, 'a running fan-out step showed a marker on each outgoing edge').toBe(true);
  });

  test('a running step\'s marker sits on its edge at data-progress % of the arc length', async ({ page }) => {
    test.setTimeout(120_000);
    await page.setViewportSize(WIDE);
    await startRun(page, 'deploy-web');
    await expect(page.locator('svg.graph g.marker').first()).toBeAttached({ timeout: 30_000 });

    // One consistent reading: the marker's attributes, the point the browser
    // computes on the edge at data-progress %, and where the marker is drawn
    // (centre of its circle if it has one, else of the whole marker), all in
    // the edge path's user units.
    const sample = () =>
      page.evaluate(() => {
        const m = document.querySelector('svg.graph g.marker');
        if (!m) return null;
        const from = m.getAttribute('data-from') ?? '';
        const to = m.getAttribute('data-to') ?? '';
        const progress = parseFloat(m.getAttribute('data-progress') ?? 'NaN');
        const x = parseFloat(m.getAttribute('data-x') ?? 'NaN');
        const y = parseFloat(m.getAttribute('data-y') ?? 'NaN');
        const path = Array.from(document.querySelectorAll('svg.graph path.edge')).find(
          (p) => p.getAttribute('data-from') === from && p.getAttribute('data-to') === to,
        ) as SVGPathElement | undefined;
        if (!path) return { from, to, progress, x, y, error: `no path.edge for ${from}->${to}` };
        const pt = path.getPointAtLength((path.getTotalLength() * progress) / 100);
        const shape = m.querySelector('circle') ?? m;
        const r = shape.getBoundingClientRect();
        const c = new DOMPoint(r.x + r.width / 2, r.y + r.height / 2).matrixTransform(path.getScreenCTM()!.inverse());
        const node = Array.from(document.querySelectorAll('svg.graph g.node[data-step]')).find(
          (n) => n.getAttribute('data-step') === from,
        );
        // Does the marker (or something in it) glide with a CSS transition?
        const glides = [m, ...Array.from(m.querySelectorAll('*'))].some((e) =>
          getComputedStyle(e)
            .transitionDuration.split(',')
            .some((d) => parseFloat(d) > 0),
        );
        return {
          from,
          to,
          progress,
          x,
          y,
          px: pt.x,
          py: pt.y,
          cx: c.x,
          cy: c.y,
          visible: r.width > 0 && r.height > 0,
          stepStatus: node?.getAttribute('data-status') ?? '',
          nodePercent: node?.querySelector('.node-percent')?.textContent?.trim() ?? '',
          glides,
        };
      });
    const dist = (ax: number, ay: number, bx: number, by: number) => Math.hypot(ax - bx, ay - by);

    let attrChecks = 0;
    let visualChecked = false;
    let unstable = 0;
    let transitionsOff = false;
    const seenProgress = new Map<string, number>();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(attrChecks >= 5 && visualChecked)) {
      const a = await sample();
      if (!a || a.error) {
        expect(a?.error ?? null, 'marker without its edge').toBeNull();
        await page.waitForTimeout(200);
        continue;
      }
      const where = `marker ${a.from}->${a.to} at ${a.progress}%`;
      // data-x/data-y (computed in Rust) match the browser's arc-length point.
      expect(dist(a.x, a.y, a.px!, a.py!), `${where}: data-x/y vs getPointAtLength`).toBeLessThanOrEqual(2);
      expect(a.stepStatus, `${where}: its step is running`).toBe('running');
      expect(a.visible, `${where}: is drawn`).toBe(true);
      // (Checked until the test itself turns transitions off, see below.)
      if (!transitionsOff) expect(a.glides, `${where}: glides with a CSS transition`).toBe(true);
      const nodePct = parsePercent(a.nodePercent);
      expect(Math.abs(nodePct - a.progress), `${where}: node shows "${a.nodePercent}"`).toBeLessThanOrEqual(1);
      const key = `${a.from}->${a.to}`;
      expect(a.progress, `${where}: progress never goes back`).toBeGreaterThanOrEqual(seenProgress.get(key) ?? 0);
      seenProgress.set(key, a.progress);
      attrChecks++;

      if (!visualChecked) {
        // Where it is drawn: only comparable once the ~0.5 s glide has ended,
        // i.e. the attributes did not change for a full second. The demo steps
        // report progress often, so after a few unlucky tries the test turns
        // CSS transitions off and compares right away.
        await page.waitForTimeout(transitionsOff ? 50 : 1_000);
        const b = await sample();
        if (b && !b.error && b.from === a.from && b.to === a.to && b.x === a.x && b.y === a.y) {
          expect(dist(b.cx!, b.cy!, b.x, b.y), `${where}: drawn at data-x/y (centre at ${b.cx},${b.cy})`).toBeLessThanOrEqual(3);
          visualChecked = true;
        } else if (++unstable >= 3 && !transitionsOff) {
          await page.addStyleTag({ content: 'svg.graph g.marker, svg.graph g.marker * { transition: none !important; }' });
          transitionsOff = true;
        }
      } else {
        await page.waitForTimeout(300);
      }
    }
    expect(attrChecks, 'marker samples taken').toBeGreaterThanOrEqual(5);
    expect(visualChecked, 'marker drawn position compared').toBe(true);
    expect(seenProgress.size, 'markers seen on edges').toBeGreaterThanOrEqual(1);
  });

  test('clicking a node opens its panel, whose log fills live', async ({ page }) => {
    test.setTimeout(120_000);
    await page.setViewportSize(WIDE);
    await startRun(page, 'deploy-web');
    await expect(page.locator('.conn')).toHaveAttribute('data-state', 'live', { timeout: 20_000 });

    // Open the panel of the fourth step ("running") well before it starts
    // (~10 s into the run), then watch its log fill while it runs.
    const step = 'running';
    await page.locator(`svg.graph g.node[data-step="${step}"]`).click();
    await expect(page).toHaveURL(new RegExp(`[?&]step=${step}(&|$)`));
    const panel = page.locator(`aside.node-panel[data-step="${step}"]`);
    await expect(panel).toBeVisible();
    await expect(panel.locator('.panel-status')).toBeVisible();
    await expect(panel.locator('.log-lines')).toBeAttached();

    // Sample node status and log length until the step is done.
    const samples: { status: string; lines: number }[] = [];
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const s = await page.evaluate((id) => {
        const node = Array.from(document.querySelectorAll('svg.graph g.node[data-step]')).find(
          (n) => n.getAttribute('data-step') === id,
        );
        return {
          status: node?.getAttribute('data-status') ?? '',
          lines: document.querySelectorAll(`aside.node-panel .log-lines .log-line`).length,
        };
      }, step);
      samples.push(s);
      if (s.status === 'success' || s.status === 'failed') break;
      await page.waitForTimeout(150);
    }
    const final = samples[samples.length - 1];
    expect(final.status, 'the step finished').toBe('success');
    const whileRunning = samples.filter((s) => s.status === 'running').map((s) => s.lines);
    expect(whileRunning.length, 'saw the step running').toBeGreaterThan(0);
    expect(Math.max(...whileRunning), 'log lines arrived while the step ran').toBeGreaterThan(0);
    expect(new Set(whileRunning.filter((n) => n > 0)).size, 'the log grew while the step ran').toBeGreaterThanOrEqual(2);
    await expect(panel.locator('.log-line')).not.toHaveCount(0);
    await expect(panel.locator('.log-lines')).toContainText('Switching load balancer for staging');
    await expect(panel.locator('.panel-status')).toHaveText(/success/i);

    // Another node switches the panel; its log has the run parameter's default.
    await page.locator('svg.graph g.node[data-step="starting-container"]').click();
    const other = page.locator('aside.node-panel[data-step="starting-container"]');
    await expect(other).toBeVisible();
    await expect(other.locator('.log-lines')).toContainText('Deploy target: staging', { timeout: 15_000 });
    await screenshot(page, 'run-panel-wide');
  });
});

test.describe('retry', () => {
  test('an ended run is retried from its page with the same parameters', async ({ page, request }) => {
    const started = await request.post('/api/v1/runs', {
      data: { pipeline: 'deploy-web', params: { environment: 'production' } },
    });
    expect(started.status()).toBe(201);
    const first = (await started.json()).id as string;
    const cancelled = await request.post(`/api/v1/runs/${first}/cancel`, { data: {} });
    expect((await cancelled.json()).status).toBe('cancelled');
    await page.goto(`/runs/${first}`);
    await expect(page.locator('.run-header .run-status')).toHaveAttribute('data-status', 'cancelled');
    await expect(page.locator('.cancel-run')).toHaveCount(0);
    await page.locator('.retry-run').getByRole('button', { name: 'Retry' }).click();
    await expect(page).not.toHaveURL(new RegExp(`/runs/${first}$`));
    await expect(page).toHaveURL(/\/runs\/deploy-web-[0-9a-f]{12}$/);
    const second = page.url().split('/runs/')[1];
    const state = await (await request.get(`/api/v1/runs/${second}`)).json();
    expect(state.params.environment).toBe('production');
    await expect(page.locator('.run-header .run-status')).not.toHaveAttribute('data-status', 'cancelled');
    await expect(page.locator('.conn[data-state="live"]')).toBeVisible();
    await screenshot(page, 'retried-run');
    await request.post(`/api/v1/runs/${second}/cancel`, { data: {} });
  });
});

test.describe('reconnect', () => {
  test('a dropped stream reconnects with backoff, resumes from its last seq and misses nothing', async ({ page }) => {
    test.setTimeout(120_000);
    await page.setViewportSize(WIDE);
    // Proxy the live stream so the test can cut it, and record what the page subscribes with.
    const pageSides: { close: (o?: { code?: number; reason?: string }) => Promise<void> }[] = [];
    const subscribes: { run?: string; step?: string; since?: number; epoch?: string }[] = [];
    // What the server sent the page, in order, tagged with how many run subscriptions preceded it.
    const frames: { after: number; frame: { type: string; events?: { seq: number }[] } }[] = [];
    await page.routeWebSocket(/\/api\/v1\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((message) => {
        const op = JSON.parse(String(message));
        if (op.op === 'subscribe' && !op.step) subscribes.push(op);
        server.send(message);
      });
      server.onMessage((message) => {
        frames.push({ after: subscribes.length, frame: JSON.parse(String(message)) });
        ws.send(message);
      });
      pageSides.push(ws);
    });
    await startRun(page, 'deploy-web');
    const conn = page.locator('.conn');
    await expect(conn).toHaveAttribute('data-state', 'live', { timeout: 20_000 });
    // Wait until the run is well under way, then record every indicator change and cut the stream.
    await expect(page.locator('svg.graph g.node[data-step="cloning-repo"]')).toHaveAttribute('data-status', 'success', {
      timeout: 30_000,
    });
    await page.evaluate(() => {
      const el = document.querySelector('.conn')!;
      const seen: string[] = [];
      (window as unknown as { __connStates: string[] }).__connStates = seen;
      new MutationObserver(() => seen.push(el.getAttribute('data-state') ?? '')).observe(el, { attributes: true });
    });
    const before = subscribes.length;
    for (const ws of pageSides.splice(0)) await ws.close({ code: 1012, reason: 'test drop' });

    // The page notices, says so, comes back, and says that too.
    await expect.poll(() => subscribes.length, { timeout: 15_000 }).toBeGreaterThan(before);
    await expect(conn).toHaveAttribute('data-state', 'live', { timeout: 15_000 });
    const states = await page.evaluate(() => (window as unknown as { __connStates: string[] }).__connStates);
    expect(states, 'the indicator showed the drop').toContain('reconnecting');
    const resume = subscribes[before];
    expect(resume.since, 'the resubscription resumes from the last applied seq').toBeGreaterThan(0);
    expect(resume.epoch, 'in the history it came from').toBeTruthy();
    // The server's answer to the resubscription: no snapshot, and the first event is since + 1.
    await expect.poll(() => frames.filter((f) => f.after > before && f.frame.type === 'events').length, { timeout: 30_000 }).toBeGreaterThan(0);
    const answer = frames.filter((f) => f.after > before && f.frame.type !== 'heartbeat');
    expect(answer.some((f) => f.frame.type === 'snapshot'), 'resumed, not resynced').toBe(false);
    const firstEvents = answer.find((f) => f.frame.type === 'events')!;
    expect(firstEvents.frame.events![0].seq, 'the first event after resubscribing').toBe(resume.since! + 1);

    // Nothing was lost: the run ends with every step green, exactly as the server has it.
    await expect(page.locator('.run-status')).toHaveAttribute('data-status', 'success', { timeout: 60_000 });
    for (const step of DEPLOY_WEB_CHAIN) {
      await expect(page.locator(`svg.graph g.node[data-step="${step}"]`)).toHaveAttribute('data-status', 'success');
    }
    await expect(page.locator('.run-percent')).toHaveText('100%');
    const runId = /\/runs\/([^/?#]+)/.exec(page.url())![1];
    const snapshot = await (await page.request.get(`/api/v1/runs/${runId}`)).json();
    const shown = await page.evaluate(() =>
      Object.fromEntries(
        Array.from(document.querySelectorAll('svg.graph g.node[data-step]')).map((n) => [
          n.getAttribute('data-step'),
          n.querySelector('.node-detail')?.textContent ?? '',
        ]),
      ),
    );
    for (const step of DEPLOY_WEB_CHAIN) {
      const message = snapshot.steps[step].message as string | null;
      if (message) expect(shown[step], `${step} shows its final message`).toContain(message.slice(0, 10));
    }
  });
});
