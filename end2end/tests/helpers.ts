// Shared helpers for the Signalbox end-to-end tests.
//
// The page contract these tests rely on (implemented by the app):
//   /                   ul.pipeline-list > li ... a[href="/pipelines/<id>"]
//   /pipelines/<id>     svg.graph with g.node[data-step][data-status] and
//                       path.edge[data-from][data-to][d]; form.start-run with
//                       inputs named params[<key>] and button[type=submit] "Start run"
//   /runs/<id>          .run-header .run-status[data-status], .run-percent ("42%"),
//                       .run-elapsed, .conn[data-state] (JS only), the same graph
//                       with live data-status, .node-percent inside nodes and
//                       g.marker[data-from][data-to][data-progress][data-x][data-y]
//                       on the outgoing edges of running steps
//   /runs/<id>?step=X   aside.node-panel[data-step=X] with .panel-status and
//                       .log-lines > .log-line
//   /healthz            200
import { test as base, expect, type Page } from '@playwright/test';
import fs from 'node:fs';
import path from 'node:path';

/** Where the js tests put full-page screenshots for humans to look at. */
/** Outside Playwright's output folder, which each run empties: the last run's pictures stay. */
export const SCREENS_DIR = path.resolve(__dirname, '..', 'screens');

/**
 * A full-page screenshot for people to look at, in the light theme and again in the dark one
 * (`<name>-dark.png`; the pages follow the system's setting). A name that already ends in
 * `-dark` is a page of a dark context: taken once.
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENS_DIR, { recursive: true });
  await page.screenshot({ path: path.join(SCREENS_DIR, `${name}.png`), fullPage: true });
  if (name.endsWith('-dark')) return;
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: path.join(SCREENS_DIR, `${name}-dark.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The demo pipelines shipped with the server. */
export const DEMO_PIPELINES = ['deploy-web', 'etl-orders', 'build-matrix'];

/** deploy-web is one chain, in this order. */
export const DEPLOY_WEB_CHAIN = [
  'starting-container',
  'cloning-repo',
  'starting-service',
  'running',
  'graceful-shutdown',
  'stopped',
];

export const ALL_STATUSES = ['pending', 'running', 'success', 'warning', 'failed', 'skipped', 'cancelled'];
export const TERMINAL = new Set(['success', 'warning', 'failed', 'skipped', 'cancelled']);
/** Upstream states that let a downstream step start. */
export const FINISHED_OK = new Set(['success', 'warning']);
/** pending < running < finished: a step's status never moves backwards. */
export const statusRank = (s: string) => (s === 'pending' ? 0 : s === 'running' ? 1 : 2);

/** Matches a run page URL; group 1 is the run id. */
export const RUN_URL = /\/runs\/([^/?#]+)(?:[?#].*)?$/;

export type Edge = { from: string; to: string; d: string };

/**
 * Test fixture that fails a test when the page throws or the wasm side panics
 * or reports a hydration error (console_error_panic_hook logs "panicked at").
 */
export const test = base.extend<{ browserErrors: string[] }>({
  browserErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' && /panicked|hydrat|unreachable|RuntimeError/i.test(m.text())) {
          errors.push(`console.error: ${m.text()}`);
        }
      });
      await use(errors);
      expect(errors, 'errors in the browser (wasm panic, hydration error, uncaught exception)').toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

/** Node ids and statuses from the DOM (works without page JavaScript). */
export async function readNodes(page: Page): Promise<Map<string, string>> {
  const nodes = page.locator('svg.graph g.node[data-step]');
  const count = await nodes.count();
  const out = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const n = nodes.nth(i);
    out.set((await n.getAttribute('data-step')) ?? '', (await n.getAttribute('data-status')) ?? '');
  }
  return out;
}

/** Edges from the DOM (works without page JavaScript). */
export async function readEdges(page: Page): Promise<Edge[]> {
  // One round trip: a live run's first step may last only a few seconds.
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('svg.graph path.edge')).map((p) => ({
      from: p.getAttribute('data-from') ?? '',
      to: p.getAttribute('data-to') ?? '',
      d: p.getAttribute('d') ?? '',
    })),
  );
}

/** upstream[step] = the steps it needs. */
export function upstreamOf(edges: Edge[]): Map<string, string[]> {
  const up = new Map<string, string[]>();
  for (const e of edges) up.set(e.to, [...(up.get(e.to) ?? []), e.from]);
  return up;
}

/** A topological order of the nodes, or null when the edges contain a cycle. */
export function topoOrder(nodes: string[], edges: Edge[]): string[] | null {
  const indeg = new Map(nodes.map((n) => [n, 0]));
  for (const e of edges) indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1);
  const queue = nodes.filter((n) => indeg.get(n) === 0);
  const order: string[] = [];
  while (queue.length) {
    const n = queue.shift()!;
    order.push(n);
    for (const e of edges.filter((e) => e.from === n)) {
      indeg.set(e.to, indeg.get(e.to)! - 1);
      if (indeg.get(e.to) === 0) queue.push(e.to);
    }
  }
  return order.length === nodes.length ? order : null;
}

/**
 * Structural checks of a pipeline graph that hold for any pipeline, with or
 * without JavaScript: every step pending, unique ids, edges with a `d` that
 * join existing nodes, acyclic. Returns the nodes and edges.
 */
export async function checkStaticGraph(page: Page) {
  await expect(page.locator('svg.graph')).toBeVisible();
  const nodes = await readNodes(page);
  const ids = [...nodes.keys()];
  expect(ids.length, 'graph has nodes').toBeGreaterThan(0);
  expect(await page.locator('svg.graph g.node[data-step]').count(), 'step ids are unique').toBe(nodes.size);
  for (const [id, status] of nodes) {
    expect(id, 'data-step is set').not.toBe('');
    expect(status, `step ${id} of a pipeline page is pending`).toBe('pending');
  }
  const edges = await readEdges(page);
  for (const e of edges) {
    expect(nodes.has(e.from), `edge from unknown step ${e.from}`).toBe(true);
    expect(nodes.has(e.to), `edge to unknown step ${e.to}`).toBe(true);
    expect(e.d.trim(), `edge ${e.from}->${e.to} has a path`).toMatch(/^[Mm]/);
  }
  expect(topoOrder(ids, edges), 'graph is acyclic').not.toBeNull();
  return { nodes, edges };
}

/** Click "Start run" on a pipeline page and wait for the run page; returns the run id. */
export async function startRun(page: Page, pipeline: string): Promise<string> {
  await page.goto(`/pipelines/${pipeline}`);
  const button = page.locator('form.start-run button[type=submit]:not([name=plan])');
  await expect(button).toHaveText(/Start run/);
  await button.click();
  await page.waitForURL(RUN_URL, { timeout: 20_000 });
  // The URL changes before the run page has rendered.
  await page.locator('.run-header').waitFor({ timeout: 20_000 });
  return RUN_URL.exec(page.url())![1];
}

/** Parse ".run-percent" text like "42%"; NaN when it does not look like that. */
export function parsePercent(text: string | null): number {
  const m = /^\s*(\d{1,3}(?:\.\d+)?)\s*%\s*$/.exec(text ?? '');
  return m ? Number(m[1]) : NaN;
}

/** Everything the run page shows about a run, read in one go (consistent). */
export type RunSnapshot = {
  steps: Record<string, string>;
  nodePercent: Record<string, string>;
  run: string;
  percent: string;
  elapsed: string;
  conn: string | null;
  markers: { from: string; to: string; progress: number; x: number; y: number }[];
};

/** Read a RunSnapshot from the DOM (also works with page JavaScript disabled). */
export function snapshotRun(page: Page): Promise<RunSnapshot> {
  return page.evaluate(() => {
    const steps: Record<string, string> = {};
    const nodePercent: Record<string, string> = {};
    for (const n of Array.from(document.querySelectorAll('svg.graph g.node[data-step]'))) {
      const id = n.getAttribute('data-step') ?? '';
      steps[id] = n.getAttribute('data-status') ?? '';
      nodePercent[id] = n.querySelector('.node-percent')?.textContent?.trim() ?? '';
    }
    const text = (sel: string) => document.querySelector(sel)?.textContent?.trim() ?? '';
    const markers = Array.from(document.querySelectorAll('svg.graph g.marker')).map((m) => ({
      from: m.getAttribute('data-from') ?? '',
      to: m.getAttribute('data-to') ?? '',
      progress: parseFloat(m.getAttribute('data-progress') ?? 'NaN'),
      x: parseFloat(m.getAttribute('data-x') ?? 'NaN'),
      y: parseFloat(m.getAttribute('data-y') ?? 'NaN'),
    }));
    return {
      steps,
      nodePercent,
      run: document.querySelector('.run-header .run-status')?.getAttribute('data-status') ?? '',
      percent: text('.run-header .run-percent'),
      elapsed: text('.run-header .run-elapsed'),
      conn: document.querySelector('.conn')?.getAttribute('data-state') ?? null,
      markers,
    };
  });
}

/**
 * Accumulates run snapshots taken over time and checks the invariants a live
 * run view must keep:
 *  - statuses are known values and never move backwards (pending < running < finished)
 *  - a step only runs or finishes after all of its upstream steps succeeded
 *    (success or warning)
 *  - the run percentage parses ("42%") and never decreases
 *  - markers sit only on outgoing edges of running steps, one per outgoing edge
 *    (a mismatch must persist over two snapshots to count: a re-render may
 *    briefly split a status change from its marker change)
 */
export class RunWatcher {
  readonly violations: string[] = [];
  /** Steps in the order they were first seen finished. */
  readonly finishOrder: string[] = [];
  readonly seenRunning = new Set<string>();
  /** Distinct numbers of finished steps seen (progress "one by one"). */
  readonly finishedCounts = new Set<number>();
  maxConcurrent = 0;
  snapshots = 0;
  last: RunSnapshot | undefined;

  private readonly upstream: Map<string, string[]>;
  private readonly outgoing = new Map<string, string[]>();
  private prevStatus = new Map<string, string>();
  private prevRun = '';
  private lastPercent = -1;
  private prevMarkerIssues = new Set<string>();

  constructor(edges: Edge[]) {
    this.upstream = upstreamOf(edges);
    for (const e of edges) this.outgoing.set(e.from, [...(this.outgoing.get(e.from) ?? []), e.to]);
  }

  observe(s: RunSnapshot): void {
    this.snapshots++;
    this.last = s;
    const fail = (msg: string) => {
      if (!this.violations.includes(msg)) this.violations.push(msg);
    };

    let finished = 0;
    let running = 0;
    for (const [step, st] of Object.entries(s.steps)) {
      if (!ALL_STATUSES.includes(st)) fail(`step ${step} has unknown status "${st}"`);
      const before = this.prevStatus.get(step);
      if (before && statusRank(st) < statusRank(before)) fail(`step ${step} went back from ${before} to ${st}`);
      if (before && statusRank(before) === 2 && st !== before) fail(`finished step ${step} changed ${before} -> ${st}`);
      if (st === 'running') {
        running++;
        this.seenRunning.add(step);
      }
      if (TERMINAL.has(st)) {
        finished++;
        if (!this.finishOrder.includes(step)) this.finishOrder.push(step);
      }
      // A step that has started (or finished other than skipped/cancelled)
      // needs every upstream step finished successfully.
      if (st === 'running' || st === 'success' || st === 'warning' || st === 'failed') {
        for (const up of this.upstream.get(step) ?? []) {
          if (!FINISHED_OK.has(s.steps[up])) fail(`step ${step} is ${st} while its upstream ${up} is ${s.steps[up]}`);
        }
      }
    }
    this.finishedCounts.add(finished);
    this.maxConcurrent = Math.max(this.maxConcurrent, running);
    this.prevStatus = new Map(Object.entries(s.steps));

    if (!ALL_STATUSES.includes(s.run)) fail(`run status "${s.run}" is unknown`);
    if (this.prevRun && statusRank(s.run) < statusRank(this.prevRun)) fail(`run went back from ${this.prevRun} to ${s.run}`);
    this.prevRun = s.run;

    const pct = parsePercent(s.percent);
    if (Number.isNaN(pct) || pct < 0 || pct > 100) fail(`.run-percent "${s.percent}" is not like "42%"`);
    else if (pct < this.lastPercent) fail(`run percent went down from ${this.lastPercent}% to ${pct}%`);
    else this.lastPercent = pct;

    // Markers: only and exactly on the outgoing edges of running steps.
    const issues = new Set<string>();
    const have = new Set(s.markers.map((m) => `${m.from}->${m.to}`));
    for (const m of s.markers) {
      if (s.steps[m.from] !== 'running') issues.add(`marker on ${m.from}->${m.to} but ${m.from} is ${s.steps[m.from]}`);
      if (!(this.outgoing.get(m.from) ?? []).includes(m.to)) issues.add(`marker on ${m.from}->${m.to}, which is no edge`);
      if (!(m.progress >= 0 && m.progress <= 100)) issues.add(`marker ${m.from}->${m.to} data-progress ${m.progress}`);
      if (!Number.isFinite(m.x) || !Number.isFinite(m.y)) issues.add(`marker ${m.from}->${m.to} has no numeric data-x/data-y`);
    }
    if (have.size !== s.markers.length) issues.add(`duplicate markers: ${s.markers.map((m) => `${m.from}->${m.to}`)}`);
    for (const [step, st] of Object.entries(s.steps)) {
      if (st !== 'running') continue;
      for (const to of this.outgoing.get(step) ?? []) {
        if (!have.has(`${step}->${to}`)) issues.add(`running step ${step} has no marker on edge ${step}->${to}`);
      }
    }
    for (const i of issues) if (this.prevMarkerIssues.has(i)) fail(i);
    this.prevMarkerIssues = issues;
  }

  get finished(): boolean {
    return !!this.last && TERMINAL.has(this.last.run);
  }
}
