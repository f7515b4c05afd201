// What the browser benchmarks share: a release server on a free port over a fresh data
// directory, Debian's Chromium, and percentiles.
import { chromium } from '../node_modules/playwright-core/index.mjs';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);

/** `--name value` pairs of the command line. */
export function cliArgs() {
  return Object.fromEntries(
    process.argv.slice(2).reduce((pairs, arg, i, all) => {
      if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
      return pairs;
    }, []),
  );
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const percentile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

function freePort() {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Starts `binary` (default: the release build) and waits until it answers; `stop()` ends it. */
export async function startServer(binary = join(ROOT, 'target/release/signalbox')) {
  const data = mkdtempSync(join(tmpdir(), 'signalbox-bench-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = spawn(binary, ['serve', '--addr', `127.0.0.1:${port}`, '--data-dir', data], {
    cwd: ROOT,
    env: { ...process.env, RUST_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const stop = async () => {
    server.kill('SIGTERM');
    await sleep(300);
    rmSync(data, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (i > 300) {
      await stop();
      throw new Error('server did not start');
    }
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {}
    await sleep(100);
  }
  return { base, stop, pid: server.pid };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** POSTs JSON, failing on anything but a 2xx. */
export async function post(base, path, body) {
  const response = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
