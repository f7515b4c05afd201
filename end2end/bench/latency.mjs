// Ingest-to-DOM latency: `make bench-latency` (or `node end2end/bench/latency.mjs [--samples 300]
// [--every 50]`).
//
// Starts the release server (target/release/signalbox, fresh data directory, free port),
// creates an ad-hoc run of 10 steps, opens its page in Debian's Chromium and, from inside the
// page (one clock for both ends), posts one `step.progress` event at a time over HTTP and
// times how long until the node's percentage shows the new value in the DOM (a
// MutationObserver). That covers the POST, the durable store, the fan-out, the WebSocket
// frame, the reducer and the next painted frame. Prints median, p99 and the slowest sample.
import { cliArgs, launchChromium, percentile, post, startServer } from './common.mjs';

const args = cliArgs();
const SAMPLES = Number(args.samples ?? 300);
const EVERY_MS = Number(args.every ?? 50);
const STEPS = 10;

const { base, stop } = await startServer(args.binary);
let browser;
try {
  const run = `latency-${Date.now()}`;
  const steps = Array.from({ length: STEPS }, (_, i) => ({ id: `s${i}`, needs: i ? [`s${i - 1}`] : [] }));
  await post(base, '/api/v1/runs', { id: run, name: 'latency', steps });

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  await page.goto(`${base}/runs/${run}`);
  await page.waitForSelector('.conn[data-state="live"]', { timeout: 60_000 });

  const samples = await page.evaluate(
    async ({ run, samples, every, steps }) => {
      const pause = (ms) => new Promise((r) => setTimeout(r, ms));
      const shown = (step, percent) =>
        new Promise((done) => {
          const node = document.querySelector(`svg.graph g.node[data-step="${step}"] .node-percent`);
          const check = () => node && node.textContent === `${percent}%`;
          if (check()) return done(performance.now());
          const observer = new MutationObserver(() => {
            if (check()) {
              observer.disconnect();
              done(performance.now());
            }
          });
          observer.observe(node, { childList: true, characterData: true, subtree: true });
          setTimeout(() => {
            observer.disconnect();
            done(null);
          }, 10_000);
        });
      const latencies = [];
      for (let k = 0; k < samples; k++) {
        const step = `s${k % steps}`;
        // 1..99, a new value for this step every time.
        const percent = (Math.floor(k / steps) % 98) + 1;
        const seen = shown(step, percent);
        const sent = performance.now();
        const answer = await fetch(`/api/v1/runs/${run}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ type: 'step.progress', step, progress: percent }),
        });
        if (!answer.ok) throw new Error(`ingest: ${answer.status}`);
        const at = await seen;
        latencies.push(at === null ? null : at - sent);
        await pause(every);
      }
      return latencies;
    },
    { run, samples: SAMPLES, every: EVERY_MS, steps: STEPS },
  );
  const seen = samples.filter((s) => s !== null);
  const report = {
    samples: samples.length,
    never_shown: samples.length - seen.length,
    ingest_to_dom_median_ms: Number(percentile(seen, 0.5).toFixed(1)),
    ingest_to_dom_p99_ms: Number(percentile(seen, 0.99).toFixed(1)),
    ingest_to_dom_max_ms: Number(Math.max(...seen).toFixed(1)),
  };
  console.log(JSON.stringify(report));
  if (report.never_shown > 0) process.exitCode = 1;
} finally {
  await browser?.close();
  await stop();
}
