// The chaos test: many official socket.io-clients send numbered streams into the lobby while
// they disconnect at random and the server is SIGKILLed and restarted. At the end every client
// and the database must agree: every acknowledged message present exactly once, in the same
// order everywhere, nothing stored twice, and every message written while offline delivered.
//
//   node chaos/chaos.mjs [--clients 50] [--messages 40] [--kills 2] [--seed 1] [--pace-ms 400]
//
// The defaults fit CI; `--clients 200 --messages 100` is the larger run. Exits 1 on a failure.
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { PalaverServer } from '../support/server.mjs';

const { values: opts } = parseArgs({
  options: {
    clients: { type: 'string', default: '50' },
    messages: { type: 'string', default: '40' },
    kills: { type: 'string', default: '2' },
    seed: { type: 'string', default: String(Date.now() % 100000) },
    'pace-ms': { type: 'string', default: '400' },
  },
});
const CLIENTS = Number(opts.clients);
const MESSAGES = Number(opts.messages);
const KILLS = Number(opts.kills);
const SEED = Number(opts.seed);
const PACE_MS = Number(opts['pace-ms']);
const ROOM = 'lobby';
const ACK_TIMEOUT_MS = 5_000;
const SETTLE_TIMEOUT_MS = 120_000;

// A seeded generator, so a failing run can be repeated with its --seed.
let state = SEED >>> 0 || 1;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (lo, hi) => lo + random() * (hi - lo);
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Polls `condition` until it holds or `ms` pass; never a bare sleep standing in for a wait. */
async function until(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(50);
  }
}

/** One person: a socket, an ordered outbox, and what it has received. */
class Client {
  constructor(index, url, runId) {
    this.name = `c${index}`;
    this.runId = runId;
    this.outbox = []; // unacknowledged, oldest first
    this.acked = []; // { n, offset, id, seq, offline }
    this.held = new Map(); // seq -> id
    this.cursor = { seq: 0, id: 0 };
    this.seen = new Set(); // ids delivered outside a sync replay
    this.duplicates = 0;
    this.disorder = 0;
    this.lastIdThisConnection = 0;
    this.syncing = false;
    this.inFlight = false;
    this.gaps = 0;
    this.reconnects = [];
    this.catchups = [];
    this.disconnectedAt = null;
    this.connectedAt = null;
    this.socket = io(url, {
      transports: ['websocket'],
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
      // The name is claimed on the first connect; the session token proves it on the others.
      auth: (cb) => cb({ name: this.name, token: this.token, since: { [ROOM]: this.cursor.id } }),
    });
    this.socket.on('connect', () => {
      this.connectedAt = performance.now();
      this.lastIdThisConnection = 0;
      if (this.disconnectedAt !== null) this.reconnects.push(this.connectedAt - this.disconnectedAt);
      this.disconnectedAt = null;
      this.pump();
    });
    this.socket.on('disconnect', () => {
      this.disconnectedAt ??= performance.now();
    });
    this.socket.on('session', (s) => {
      this.token = s.token;
    });
    this.socket.on('connect_error', (e) => {
      // Transport errors while the server is down are expected; a refusal by the server is not.
      if (e.type === 'TransportError' || e.message === 'websocket error') return;
      this.refusals = (this.refusals ?? 0) + 1;
      console.error(`${this.name}: connect refused: ${e.message}`);
    });
    this.socket.on('chat message', (text, id, meta) => this.receive(id, meta.seq, false));
    this.socket.on('synced', (s) => {
      if (this.connectedAt !== null) this.catchups.push(performance.now() - this.connectedAt);
      this.connectedAt = null;
      if (s.gap) {
        this.gaps += 1;
        this.fillGap();
      } else if (s.lastSeq > this.cursor.seq) this.sync();
    });
    this.socket.on('room head', (h) => {
      if (h.lastSeq > this.cursor.seq) this.sync();
    });
  }

  receive(id, seq, replay) {
    if (!replay) {
      if (this.seen.has(id)) this.duplicates += 1;
      this.seen.add(id);
      if (id <= this.lastIdThisConnection) this.disorder += 1;
      this.lastIdThisConnection = id;
    }
    this.held.set(seq, id);
    while (this.held.has(this.cursor.seq + 1)) {
      const next = this.cursor.seq + 1;
      this.cursor = { seq: next, id: this.held.get(next) };
    }
    if (this.newestSeq() > this.cursor.seq) this.sync();
  }

  newestSeq() {
    let max = 0;
    for (const s of this.held.keys()) max = Math.max(max, s);
    return max;
  }

  /** Fetches what is missing after the cursor; replays may repeat what was held past a hole. */
  sync() {
    return this.replaying(() => this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('sync', { since: { [ROOM]: this.cursor.id } }));
  }

  /**
   * More was missed than the server replays: page back through `history` from the newest
   * message to the cursor, as a reader scrolling up would, so the check can still demand the
   * full list.
   */
  fillGap() {
    return this.replaying(async () => {
      let before;
      for (;;) {
        const { data } = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('history', { room: ROOM, before, limit: 100 });
        for (const [, id, meta] of data.messages) this.receive(id, meta.seq, true);
        if (!data.more || data.messages.length === 0 || data.messages[0][1] <= this.cursor.id) return;
        before = data.messages[0][1];
      }
    });
  }

  /**
   * Runs `request`, one at a time, with deliveries counted as replays: they may repeat what
   * was held past a hole, which is expected and merged.
   */
  async replaying(request) {
    if (this.syncing || !this.socket.connected) return;
    this.syncing = true;
    this.socket.off('chat message');
    this.socket.on('chat message', (text, id, meta) => this.receive(id, meta.seq, true));
    try {
      await request();
    } catch {
      // Disconnected or timed out: the next connect catches up from the cursor anyway.
    } finally {
      this.socket.off('chat message');
      this.socket.on('chat message', (text, id, meta) => this.receive(id, meta.seq, false));
      this.syncing = false;
    }
  }

  write(n) {
    this.outbox.push({ n, text: `${this.name}#${n}`, offset: `${this.runId}-${this.name}-${n}`, offline: !this.socket.connected });
    this.pump();
  }

  /** Sends the oldest unacknowledged message, one at a time, until it is acknowledged. */
  async pump() {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      while (this.outbox.length > 0 && this.socket.connected) {
        const head = this.outbox[0];
        const outcome = await this.attempt(head);
        if (outcome.ack?.data) {
          this.outbox.shift();
          this.acked.push({ ...head, id: outcome.ack.data.id, seq: outcome.ack.data.seq });
        } else if (outcome.ack?.error?.code === 'rate_limited') {
          // A backlog written offline goes out faster than the rate limit: wait as told.
          this.throttled = (this.throttled ?? 0) + 1;
          await pause(outcome.ack.error.retry_after_ms);
        } else if (outcome.ack?.error) {
          throw new Error(`${head.text} refused: ${JSON.stringify(outcome.ack.error)}`);
        } else if (outcome.timeout) {
          await pause(between(100, 400));
        }
        // Disconnected: the loop ends; the next `connect` pumps again.
      }
    } finally {
      this.inFlight = false;
    }
  }

  attempt(message) {
    return new Promise((resolve) => {
      const done = (outcome) => {
        clearTimeout(timer);
        this.socket.off('disconnect', onDisconnect);
        resolve(outcome);
      };
      const onDisconnect = () => done({ disconnected: true });
      const timer = setTimeout(() => done({ timeout: true }), ACK_TIMEOUT_MS);
      this.socket.once('disconnect', onDisconnect);
      this.socket.emit('chat message', message.text, message.offset, (ack) => done({ ack }));
    });
  }

  /** Drops the connection for a while, as a phone going through a tunnel. */
  async flap() {
    if (!this.socket.connected) return;
    this.socket.disconnect();
    await pause(between(100, 1500));
    this.socket.connect();
  }

  close() {
    this.socket.close();
  }
}

function readDatabase(file) {
  const out = execFileSync('sqlite3', ['-json', file, `SELECT id, seq, client_offset AS offset, text FROM messages WHERE room = '${ROOM}' ORDER BY id`], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  return out.trim() ? JSON.parse(out) : [];
}

async function metric(server, name) {
  try {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  } catch {
    return NaN;
  }
}

async function main() {
  const started = performance.now();
  const server = await PalaverServer.start();
  const runId = `run${SEED}`;
  const clients = Array.from({ length: CLIENTS }, (_, i) => new Client(i, server.url, runId));
  const failures = [];
  let kills = 0;
  let dropped = 0;
  try {
    await until(() => clients.every((c) => c.socket.connected), 30_000, 'every client to connect');

    // Each client writes its stream at its own jittered pace and flaps now and then.
    const writing = clients.map(async (c) => {
      for (let n = 1; n <= MESSAGES; n++) {
        await pause(between(0.5, 1.5) * PACE_MS);
        c.write(n);
        if (random() < 0.04) c.flap();
      }
    });
    // The server dies at random moments while they write.
    const span = MESSAGES * PACE_MS;
    const killing = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await pause(between(0.5, 1.5) * (span / (KILLS + 1)));
        dropped += (await metric(server, 'palaver_emits_dropped_total')) || 0;
        await server.kill();
        kills += 1;
        await pause(between(200, 1000));
        await server.resume();
      }
    })();
    await Promise.all([...writing, killing]);

    await until(() => clients.every((c) => c.outbox.length === 0), SETTLE_TIMEOUT_MS, 'every message to be acknowledged');
    const db = readDatabase(server.database);
    const headSeq = db.length;
    await until(() => clients.every((c) => c.cursor.seq >= headSeq || (c.sync(), false)), SETTLE_TIMEOUT_MS, 'every client to catch up').catch((e) => {
      const behind = clients.filter((c) => c.cursor.seq < headSeq);
      const sample = behind.slice(0, 5).map((c) => `${c.name}: cursor ${c.cursor.seq}, newest ${c.newestSeq()}, connected ${c.socket.connected}`);
      throw new Error(`${e.message}: ${behind.length} behind ${headSeq} (${sample.join('; ')})`);
    });
    dropped += (await metric(server, 'palaver_emits_dropped_total')) || 0;

    // The database: seq without holes, no offset or text twice, every ack's id as stored.
    const expectedIds = db.map((r) => r.id);
    if (db.some((r, i) => r.seq !== i + 1)) failures.push('seq in the database is not 1..N');
    const offsets = new Set(db.map((r) => r.offset));
    const texts = new Set(db.map((r) => r.text));
    const storedTwice = db.length - Math.min(offsets.size, texts.size);
    if (storedTwice) failures.push(`${storedTwice} messages stored twice`);
    const byOffset = new Map(db.map((r) => [r.offset, r]));
    const acked = clients.flatMap((c) => c.acked);
    let lost = 0;
    for (const a of acked) {
      const row = byOffset.get(a.offset);
      if (!row || row.id !== a.id || row.text !== a.text) lost += 1;
    }
    // Every client: exactly the stored messages, in the same order.
    let views = 0;
    for (const c of clients) {
      const view = Array.from({ length: c.cursor.seq }, (_, i) => c.held.get(i + 1));
      if (view.length !== expectedIds.length || view.some((id, i) => id !== expectedIds[i])) {
        failures.push(`${c.name} holds a different list (${view.length} of ${expectedIds.length})`);
      } else views += 1;
    }
    const ackedIds = new Set(acked.map((a) => a.id));
    const missingFromViews = acked.filter((a) => !expectedIds.includes(a.id)).length;
    lost += missingFromViews;
    const offline = acked.filter((a) => a.offline);
    const offlineLost = offline.filter((a) => !byOffset.has(a.offset)).length;
    const sent = CLIENTS * MESSAGES;
    const duplicates = clients.reduce((s, c) => s + c.duplicates, 0);
    const disorder = clients.reduce((s, c) => s + c.disorder, 0);
    const gaps = clients.reduce((s, c) => s + c.gaps, 0);
    if (acked.length !== sent) failures.push(`${sent - acked.length} messages never acknowledged`);
    if (ackedIds.size !== acked.length) failures.push('two sends acknowledged with the same id');
    if (lost) failures.push(`${lost} acknowledged messages lost`);
    if (duplicates) failures.push(`${duplicates} duplicate deliveries`);
    if (disorder) failures.push(`${disorder} out-of-order deliveries`);
    if (offlineLost) failures.push(`${offlineLost} offline messages not delivered`);
    if (kills < KILLS) failures.push(`only ${kills} kills`);
    const refusals = clients.reduce((n, c) => n + (c.refusals ?? 0), 0);
    if (refusals) failures.push(`${refusals} connections refused by the server`);

    const reconnects = clients.flatMap((c) => c.reconnects);
    const catchups = clients.flatMap((c) => c.catchups);
    const ms = (v) => `${v.toFixed(0)} ms`;
    const rows = [
      ['seed', SEED],
      ['clients', CLIENTS],
      ['sent', sent],
      ['acknowledged', acked.length],
      ['sent while offline', offline.length],
      ['stored', db.length],
      ['duplicates (must be 0)', duplicates + storedTwice],
      ['lost (must be 0)', lost + offlineLost],
      ['clients with the full, same-order list', `${views}/${CLIENTS}`],
      ['server SIGKILLs', kills],
      ['reconnects', reconnects.length],
      ['reconnect p50 / p99', `${ms(percentile(reconnects, 50))} / ${ms(percentile(reconnects, 99))}`],
      ['catch-ups', catchups.length],
      ['catch-up p50 / p99', `${ms(percentile(catchups, 50))} / ${ms(percentile(catchups, 99))}`],
      ['catch-ups beyond the window (paged back)', gaps],
      ['deliveries dropped (server count)', dropped],
      ['sends throttled, then retried', clients.reduce((n, c) => n + (c.throttled ?? 0), 0)],
      ['connections refused (must be 0)', refusals],
      ['run time', `${((performance.now() - started) / 1000).toFixed(1)} s`],
    ];
    console.log('\nchaos test');
    for (const [k, v] of rows) console.log(`  ${String(k).padEnd(40)} ${v}`);
  } catch (e) {
    failures.push(e.message);
  } finally {
    clients.forEach((c) => c.close());
    await server.dispose().catch((e) => failures.push(`server stop: ${e.message}`));
  }
  const log = server.logs.join('');
  if (log.includes('panicked')) failures.push('the server panicked');
  if (failures.length) {
    console.error(`\nFAILED:\n  ${failures.join('\n  ')}`);
    if (process.env.CHAOS_LOG) console.error(log);
    process.exit(1);
  }
  console.log('\nchaos test passed');
}

await main();
