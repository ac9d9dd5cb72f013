// What stalled readers cost everyone else: broadcast latency seen by healthy readers, and the
// server's memory, without and then with sockets that stop reading (their TCP receive side is
// paused, so the server's per-socket buffer fills and deliveries to them are dropped).
//
//   node chaos/stall.mjs [--readers 20] [--stalled 5] [--messages 4000] [--rate 200] [--bytes 3500]
//
// Prints figures; it asserts only that healthy readers lost nothing. Not a timed test.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { PalaverServer } from '../support/server.mjs';

const { values: opts } = parseArgs({
  options: {
    readers: { type: 'string', default: '20' },
    stalled: { type: 'string', default: '5' },
    messages: { type: 'string', default: '4000' },
    rate: { type: 'string', default: '200' },
    bytes: { type: 'string', default: '3500' },
  },
});
const READERS = Number(opts.readers);
const STALLED = Number(opts.stalled);
const MESSAGES = Number(opts.messages);
const RATE = Number(opts.rate);
const PAD = 'x'.repeat(Number(opts.bytes));

const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (v, p) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.ceil((p / 100) * v.length) - 1)];

function connect(url, name) {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { name, since: { lobby: 0 } } });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** Starts a child process holding `count` sockets that stop reading; resolves once they have. */
function stallElsewhere(url, count, label) {
  const script = `
    import { io } from 'socket.io-client';
    const sockets = await Promise.all(Array.from({ length: ${count} }, (_, i) => new Promise((resolve, reject) => {
      const s = io(${JSON.stringify(url)}, { transports: ['websocket'], forceNew: true, reconnection: false,
        auth: { name: ${JSON.stringify(label)} + '-stalled-' + i, since: { lobby: 0 } } });
      s.once('connect', () => resolve(s));
      s.once('connect_error', reject);
    })));
    for (const s of sockets) s.io.engine.transport.ws._socket.pause();
    console.log('stalled');
    setInterval(() => {}, 1 << 30);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`the stalling process exited with ${code}`)));
  });
}

function rssKiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(line.split(/\s+/)[1]);
}

async function dropped(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(text.split('\n').find((l) => l.startsWith('palaver_emits_dropped_total ')).split(' ')[1]);
}

/** Publishes MESSAGES messages at RATE per second; healthy readers record latencies. */
async function phase(server, label, stalledCount) {
  const readers = await Promise.all(Array.from({ length: READERS }, (_, i) => connect(server.url, `r${i}`)));
  const latencies = [];
  const counts = new Array(READERS).fill(0);
  readers.forEach((s, i) =>
    s.on('chat message', (text) => {
      counts[i] += 1;
      latencies.push(performance.now() - Number(text.split(' ')[0]));
    }),
  );
  // The stalled sockets live in another process, so that they cannot slow this one's
  // event loop and the readers' figures show only what the server does.
  const stalled = stalledCount > 0 ? await stallElsewhere(server.url, stalledCount, label) : null;
  const publisher = await connect(server.url, 'pub');
  const droppedBefore = await dropped(server);
  const rssBefore = rssKiB(server.proc.pid);

  const start = performance.now();
  let inFlight = [];
  for (let n = 0; n < MESSAGES; n++) {
    const due = start + (n * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await pause(wait);
    const ack = publisher.timeout(10_000).emitWithAck('chat message', `${performance.now()} ${PAD}`, `${label}-${n}`);
    inFlight.push(
      ack.then((a) => {
        if (!a.data) throw new Error(`send refused: ${JSON.stringify(a.error)}`);
      }),
    );
    if (inFlight.length >= 64) inFlight = [Promise.all(inFlight)];
  }
  await Promise.all(inFlight);
  const deadline = Date.now() + 30_000;
  while (counts.some((c) => c < MESSAGES) && Date.now() < deadline) await pause(50);
  const result = {
    label,
    stalled: stalledCount,
    p50: pct(latencies, 50),
    p99: pct(latencies, 99),
    max: Math.max(...latencies),
    complete: counts.every((c) => c === MESSAGES),
    dropped: (await dropped(server)) - droppedBefore,
    rssGrowthKiB: rssKiB(server.proc.pid) - rssBefore,
  };
  [...readers, publisher].forEach((s) => s.close());
  stalled?.kill();
  return result;
}

// One publisher at 200 messages/s: far over the per-person rate limit, so lift it.
const server = await PalaverServer.start({ PALAVER_RATE_LIMIT: '0' });
let failed = false;
try {
  // Healthy again last, to tell the stalled readers' cost from drift over the run.
  const rows = [await phase(server, 'healthy', 0), await phase(server, 'stalled', STALLED), await phase(server, 'after', 0)];
  console.log(`\n${READERS} readers, ${MESSAGES} messages of ${PAD.length} bytes at ${RATE}/s`);
  console.log('phase    stalled  p50 ms  p99 ms  max ms  all delivered  drops  server RSS growth');
  for (const r of rows) {
    console.log(
      `${r.label.padEnd(8)} ${String(r.stalled).padStart(7)} ${r.p50.toFixed(1).padStart(7)} ${r.p99.toFixed(1).padStart(7)} ${r.max.toFixed(0).padStart(7)}  ${String(r.complete).padStart(13)} ${String(r.dropped).padStart(6)}  ${(r.rssGrowthKiB / 1024).toFixed(1)} MiB`,
    );
    if (!r.complete) failed = true;
  }
} finally {
  await server.dispose();
}
if (failed) {
  console.error('a healthy reader missed messages');
  process.exit(1);
}
