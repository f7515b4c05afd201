// Browser frame times while a big run progresses: `make bench-browser` (or
// `node end2end/bench/frames.mjs [--steps 2000] [--running 200] [--hz 20] [--seconds 10]`).
//
// Starts the release server (target/release/signalbox, fresh data directory, free port),
// creates an ad-hoc run of --steps steps in layers of 25, opens its page in Debian's Chromium
// at 1600x900 and measures: time until the page is live (hydrated, subscribed; as the script
// sees it and by the page's own clock from navigation start), then, while
// --running steps each get --hz progress updates a second, every frame's duration
// (requestAnimationFrame deltas, median and p95) and whether the page kept up: after the
// burst, every running node on screen must show its last percentage. (Graphs of 300 steps
// or more keep only what is on screen, plus a margin, in the DOM.) Then, while the steps keep
// updating, it zooms out three steps, fits, returns to 1:1 and drags the graph 600 pixels,
// recording those frames too (and each action's longest frame).
import { cliArgs, launchChromium, percentile, post, sleep, startServer } from './common.mjs';

const args = cliArgs();
const STEPS = Number(args.steps ?? 2000);
const RUNNING = Number(args.running ?? 200);
const HZ = Number(args.hz ?? 20);
const SECONDS = Number(args.seconds ?? 10);
const WIDTH = 25;

function layered(steps) {
  return Array.from({ length: steps }, (_, i) => {
    const layer = Math.floor(i / WIDTH);
    const j = i % WIDTH;
    const needs = layer === 0 ? [] : [...new Set([`s${layer - 1}-${j}`, `s${layer - 1}-${(j + 1) % WIDTH}`])];
    return { id: `s${layer}-${j}`, needs };
  });
}

const { base, stop } = await startServer(args.binary);
let browser;
try {
  const steps = layered(STEPS);
  const run = `frames-${Date.now()}`;
  await post(base, '/api/v1/runs', { id: run, name: `${STEPS} steps`, steps });
  await post(base, `/api/v1/runs/${run}/events`, { type: 'run.started' });

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  // The moment the indicator first says live, by the page's own clock (from navigation start):
  // free of the automation's round trips that `live_after_ms` includes.
  await page.addInitScript(() => {
    new MutationObserver((_, observer) => {
      if (document.querySelector('.conn[data-state="live"]')) {
        window.__liveAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { subtree: true, childList: true, attributes: true });
  });
  const opened = Date.now();
  await page.goto(`${base}/runs/${run}`);
  const rendered = Date.now() - opened;
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 60_000 });
  const live = Date.now() - opened;
  const liveInPage = await page.evaluate(() => Math.round(window.__liveAt));

  await page.evaluate(() => {
    window.__frames = [];
    let last = performance.now();
    const tick = (now) => {
      window.__frames.push(now - last);
      last = now;
      if (!window.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    window.__states = new Set();
    const conn = document.querySelector('.conn');
    new MutationObserver(() => window.__states.add(conn.dataset.state)).observe(conn, { attributes: true });
  });

  const active = steps.slice(0, RUNNING).map((s) => s.id);
  const rounds = SECONDS * HZ;
  const started = Date.now();
  let lastPercent = 0;
  for (let round = 0; round < rounds; round++) {
    const due = started + (round * 1000) / HZ;
    await sleep(Math.max(0, due - Date.now()));
    lastPercent = Math.min(99, Math.floor((round / rounds) * 100));
    const events = active.map((step) => ({
      type: 'step.progress',
      step,
      progress: lastPercent,
      message: `round ${round}`,
    }));
    await post(base, `/api/v1/runs/${run}/events`, events);
  }
  const burstEnded = Date.now();
  const expected = `${lastPercent}%`;
  const onScreen = (ids) =>
    ids.map((id) => document.querySelector(`g.node[data-step="${id}"] .node-percent`)).filter(Boolean);
  const caughtUp = await page
    .waitForFunction(
      ([ids, text, query]) => {
        const shown = new Function('ids', `return (${query})(ids)`)(ids);
        return shown.length > 0 && shown.every((e) => e.textContent === text);
      },
      [active, expected, onScreen.toString()],
      { timeout: 120_000, polling: 50 },
    )
    .then(() => Date.now() - burstEnded)
    .catch(() => null);
  const visible = await page.evaluate(
    ([ids, query]) => new Function('ids', `return (${query})(ids)`)(ids).length,
    [active, onScreen.toString()],
  );
  const drawn = await page.evaluate(() => document.querySelectorAll('g.node').length);
  const { frames, states } = await page.evaluate(() => {
    const frames = window.__frames.slice(1);
    window.__frames = [];
    return { frames, states: [...window.__states] };
  });

  // Zoom and pan while the run keeps progressing at the same rate: out three steps, Fit,
  // 1:1, then a 600-pixel drag of the background; every frame is recorded.
  const moving = (async () => {
    for (let round = 0; round < 4 * HZ; round++) {
      const due = Date.now() + 1000 / HZ;
      const events = active.map((step) => ({ type: 'step.progress', step, progress: 99, message: `zoom ${round}` }));
      await post(base, `/api/v1/runs/${run}/events`, events);
      await sleep(Math.max(0, due - Date.now()));
    }
  })();
  const tools = page.locator('.graph-tools');
  // Each action's frames, and its longest.
  const zoomFrames = [];
  const longest = [];
  const record = async (action) => {
    const frames = await page.evaluate(() => window.__frames.splice(0));
    zoomFrames.push(...frames);
    longest.push(`${action} ${Math.max(0, ...frames).toFixed(0)}`);
  };
  await page.evaluate(() => window.__frames.splice(0));
  for (const button of ['.zoom-out', '.zoom-out', '.zoom-out', '.zoom-fit', '.zoom-actual']) {
    await tools.locator(button).click();
    await sleep(400);
    await record(button.slice(1));
  }
  const wrap = await page.locator('.graph-wrap').boundingBox();
  await page.mouse.move(wrap.x + 6, wrap.y + 6);
  await page.mouse.down();
  await page.mouse.move(wrap.x - 594, wrap.y + 6, { steps: 30 });
  await page.mouse.up();
  await moving;
  await record('drag');
  await page.evaluate(() => {
    window.__stop = true;
  });
  const report = {
    steps: STEPS,
    running: RUNNING,
    updates_per_s: RUNNING * HZ,
    first_html_ms: rendered,
    live_after_ms: live,
    live_in_page_ms: liveInPage,
    frames: frames.length,
    frame_median_ms: Number(percentile(frames, 0.5).toFixed(1)),
    frame_p95_ms: Number(percentile(frames, 0.95).toFixed(1)),
    caught_up_after_burst_ms: caughtUp,
    running_nodes_on_screen: visible,
    nodes_in_dom: drawn,
    indicator_states: states,
    zoom_pan_frames: zoomFrames.length,
    zoom_pan_frame_median_ms: Number(percentile(zoomFrames, 0.5).toFixed(1)),
    zoom_pan_frame_p95_ms: Number(percentile(zoomFrames, 0.95).toFixed(1)),
    zoom_pan_longest_frame_ms: Number(Math.max(...zoomFrames).toFixed(1)),
    zoom_pan_longest_by_action_ms: longest.join(', '),
  };
  console.log(JSON.stringify(report));
  if (caughtUp === null || visible === 0) process.exitCode = 1;
} finally {
  await browser?.close();
  await stop();
}
