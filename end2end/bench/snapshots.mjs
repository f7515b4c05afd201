// Server CPU per subscription to a big run: `node --experimental-websocket
// end2end/bench/snapshots.mjs [--steps 2000] [--subscribers 1000] [--binary B]`.
//
// Starts the release server (fresh data directory, free port), creates an ad-hoc run of
// --steps steps, then opens --subscribers WebSocket connections, 50 at a time, each subscribing
// to the run with no position (so each gets the run's snapshot) and closing once subscribed.
// Reports the server's CPU time (from /proc) per subscription and the snapshot's size: what a
// page of viewers opening a big run at once costs the server.
import { cliArgs, post, startServer } from './common.mjs';
import { readFileSync } from 'node:fs';

const args = cliArgs();
const STEPS = Number(args.steps ?? 2000);
const SUBSCRIBERS = Number(args.subscribers ?? 1000);
const AT_ONCE = 50;

/** The process's user + system CPU time in milliseconds (clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function subscribe(base, run) {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v1/ws`);
    let snapshot = 0;
    const timer = setTimeout(() => fail(new Error('no answer in 30 s')), 30_000);
    ws.onopen = () => ws.send(JSON.stringify({ op: 'subscribe', run }));
    ws.onmessage = (message) => {
      const frame = JSON.parse(String(message.data));
      if (frame.type === 'snapshot') snapshot = String(message.data).length;
      if (frame.type === 'subscribed') {
        clearTimeout(timer);
        ws.close();
        if (snapshot === 0) fail(new Error('subscribed without a snapshot'));
        else ok(snapshot);
      }
    };
    ws.onerror = () => fail(new Error('connection failed'));
  });
}

const { base, stop, pid } = await startServer(args.binary);
try {
  const run = `snapshots-${Date.now()}`;
  const steps = Array.from({ length: STEPS }, (_, i) => ({ id: `s${i}`, needs: i ? [`s${i - 1}`] : [] }));
  await post(base, '/api/v1/runs', { id: run, name: `${STEPS} steps`, steps });
  await post(base, `/api/v1/runs/${run}/events`, { type: 'run.started' });
  const before = cpuMs(pid);
  const started = Date.now();
  let bytes = 0;
  for (let done = 0; done < SUBSCRIBERS; done += AT_ONCE) {
    const sizes = await Promise.all(
      Array.from({ length: Math.min(AT_ONCE, SUBSCRIBERS - done) }, () => subscribe(base, run)),
    );
    bytes = sizes[0];
  }
  const cpu = cpuMs(pid) - before;
  console.log(JSON.stringify({
    steps: STEPS,
    subscribers: SUBSCRIBERS,
    snapshot_kb: Number((bytes / 1000).toFixed(1)),
    server_cpu_ms: cpu,
    server_cpu_per_subscription_ms: Number((cpu / SUBSCRIBERS).toFixed(2)),
    wall_ms: Date.now() - started,
  }));
} finally {
  await stop();
}
