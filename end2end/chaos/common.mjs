// What the chaos tests share: a seeded generator, waits that poll instead of sleeping, and the
// client, an official socket.io-client that keeps the lobby as Palaver's browser does for
// exactly-once delivery: a cursor (the newest message with no `seq` missing before it) sent as
// `since` on every connect, a `sync` whenever a live `chat message` skips a `seq` or a `room
// head` or `synced` says there is more, one copy of each message by id, and an outbox retried
// under the same client offset until acknowledged. It counts everything it receives, so that
// each test can hold it to its own promises (chaos.mjs: one node, where nothing arrives
// twice or out of order at all; cluster.mjs: several nodes, where only what is kept must be
// whole).
import { io } from 'socket.io-client';

export const ROOM = 'lobby';
export const ACK_TIMEOUT_MS = 5_000;

/** A seeded generator, so that a failing run can be repeated with its seed. */
export function seeded(seed) {
  let state = seed >>> 0 || 1;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { random, between: (lo, hi) => lo + random() * (hi - lo) };
}

export const pause = (ms) => new Promise((r) => setTimeout(r, ms));

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Polls `condition` until it holds or `ms` pass; never a bare sleep standing in for a wait. */
export async function until(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(50);
  }
}

/** A counter of a server's /metrics, or NaN when it does not answer. */
export async function metric(url, name) {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : NaN;
  } catch {
    return NaN;
  }
}

export const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : '-');

/** Prints `rows` ([label, value]) under `title`, as a two-column table. */
export function printTable(title, rows) {
  const width = Math.max(...rows.map(([k]) => String(k).length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${String(k).padEnd(width)}  ${v}`);
}

const sum = (clients, f) => clients.reduce((n, c) => n + f(c), 0);

/** One person: a socket, an ordered outbox, and the lobby as it holds it. */
export class Client {
  /**
   * `options`: socket.io-client's, over the defaults here; `random` jitters the retries.
   * `onRefused`: told of a `connect_error` that is the server's refusal.
   */
  constructor(index, url, runId, { options = {}, random = Math.random } = {}) {
    this.name = `c${index}`;
    this.runId = runId;
    this.random = random;
    this.outbox = []; // unacknowledged, oldest first
    this.acked = []; // { n, text, offset, id, seq, offline }
    this.held = new Map(); // seq -> id
    this.seqOf = new Map(); // id -> seq
    this.cursor = { seq: 0, id: 0 };
    // Strict counts, which one node must keep at 0: a message delivered outside a requested
    // replay that was delivered so before, and one whose id is below the connection's last.
    this.seen = new Set();
    this.duplicates = 0;
    this.disorder = 0;
    this.lastIdThisConnection = 0;
    // What holding the lobby took: deliveries, those dropped as held already, those that
    // contradict what is held (a seq with another id: must be 0), live ones ahead of a hole.
    this.deliveries = 0;
    this.redundant = 0;
    this.conflicts = 0;
    this.ahead = 0;
    this.syncs = 0;
    this.heads = 0;
    this.gaps = 0;
    this.unavailable = 0;
    this.refusals = 0;
    this.retriedRefusals = 0;
    this.throttled = 0;
    this.syncing = false;
    this.syncAgain = false;
    this.inFlight = false;
    this.reconnects = [];
    this.catchups = [];
    this.disconnectedAt = null;
    this.connectedAt = null;
    // The last connection lost not by the client's own doing, and when it was whole again
    // (connected, `synced`, and holding everything up to that `synced`'s head).
    this.drops = []; // { at, reason, attemptAt, connectedAt, wholeAt }
    this.syncedHead = null;
    this.watchers = []; // { seq, resolve }
    // Per connection: how often each seq arrived, and the seqs each replay covered (the
    // connect's catch-up, each `sync`: from the cursor sent to the head answered, each once).
    // What arrived more often than replays covered it was sent live. A seq after the
    // connect's head and before one sent live, never sent live itself, was missed by the
    // server's delivery; it was announced if a `room head` (or the connect's `synced`) on
    // the connection reached it, and otherwise found only because a later message showed
    // the hole.
    this.connection = null;
    this.sinceSeq = 0;
    this.unsent = []; // { seq, at }
    this.socket = io(url, {
      transports: ['websocket'],
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
      forceNew: true,
      ...options,
      // The name is claimed on the first connect; the session token proves it on the others.
      auth: (cb) => {
        this.sinceSeq = this.cursor.seq;
        cb({ name: this.name, token: this.token, since: { [ROOM]: this.cursor.id } });
      },
    });
    this.socket.io.on('reconnect_attempt', () => {
      const drop = this.drops.at(-1);
      if (drop && drop.attemptAt === null) drop.attemptAt = performance.now();
    });
    this.socket.on('connect', () => {
      this.connectedAt = performance.now();
      this.lastIdThisConnection = 0;
      this.syncedHead = null;
      this.connection = { head: null, told: 0, arrived: new Map(), replays: [], unsure: false, since: Date.now() };
      if (this.disconnectedAt !== null) this.reconnects.push(this.connectedAt - this.disconnectedAt);
      this.disconnectedAt = null;
      const drop = this.drops.at(-1);
      if (drop && drop.connectedAt === null) drop.connectedAt = this.connectedAt;
      this.pump();
    });
    this.socket.on('disconnect', (reason) => {
      const now = performance.now();
      this.closeConnection();
      this.disconnectedAt ??= now;
      const drop = this.drops.at(-1);
      if (reason !== 'io client disconnect') {
        this.drops.push({ at: now, reason, attemptAt: null, connectedAt: null, wholeAt: null, interrupted: false });
      } else if (drop && drop.wholeAt === null) {
        // Its own disconnect before it was whole again: that time is not the server's.
        drop.interrupted = true;
      }
    });
    this.socket.on('session', (s) => {
      this.token = s.token;
    });
    this.socket.on('connect_error', (e) => {
      // Transport errors while a server is down are expected; so is `unavailable` while the
      // database is: Palaver's client tries again a second later, as this one does.
      if (e.type === 'TransportError' || e.message === 'websocket error') return;
      if (e.message === 'unavailable') {
        this.retriedRefusals += 1;
        setTimeout(() => this.socket.connect(), 1000);
        return;
      }
      this.refusals += 1;
      console.error(`${this.name}: connect refused: ${e.message}`);
    });
    this.socket.on('chat message', (text, id, meta) => this.receive(id, meta.seq, false));
    this.socket.on('synced', (s) => {
      if (this.connectedAt !== null) this.catchups.push(performance.now() - this.connectedAt);
      this.connectedAt = null;
      this.syncedHead = s.lastSeq;
      if (this.connection && this.connection.head === null) {
        this.connection.head = s.lastSeq;
        this.connection.told = Math.max(this.connection.told, s.lastSeq);
        if (!s.gap) this.connection.replays.push([this.sinceSeq, s.lastSeq]);
      }
      this.settle(s);
    });
    this.socket.on('room head', (h) => {
      this.heads += 1;
      if (this.connection) this.connection.told = Math.max(this.connection.told, h.lastSeq);
      if (h.lastSeq > this.cursor.seq) this.sync();
    });
  }

  /** What a `synced` (of a connect, or of a `sync`) asks of the client. */
  settle(s) {
    if (s.gap) {
      this.gaps += 1;
      this.fillGap();
    } else if (s.lastSeq > this.cursor.seq || this.newestSeq() > this.cursor.seq) this.sync();
    this.checkWhole();
  }

  receive(id, seq, replay) {
    this.deliveries += 1;
    if (this.connection) this.connection.arrived.set(seq, (this.connection.arrived.get(seq) ?? 0) + 1);
    if (!replay) {
      if (this.seen.has(id)) this.duplicates += 1;
      this.seen.add(id);
      if (id <= this.lastIdThisConnection) this.disorder += 1;
      this.lastIdThisConnection = id;
      if (seq > this.cursor.seq + 1 && !this.held.has(seq)) this.ahead += 1;
    }
    const had = this.held.get(seq);
    const at = this.seqOf.get(id);
    if (had === id) {
      this.redundant += 1;
    } else if (had !== undefined || at !== undefined) {
      this.conflicts += 1;
      console.error(`${this.name}: seq ${seq} delivered as id ${id}, but holds seq ${seq} as ${had} and id ${id} at seq ${at}`);
    } else {
      this.held.set(seq, id);
      this.seqOf.set(id, seq);
    }
    while (this.held.has(this.cursor.seq + 1)) {
      const next = this.cursor.seq + 1;
      this.cursor = { seq: next, id: this.held.get(next) };
    }
    if (this.watchers.length) {
      const now = performance.now();
      this.watchers = this.watchers.filter((w) => (this.cursor.seq >= w.seq ? (w.resolve(now), false) : true));
    }
    if (this.newestSeq() > this.cursor.seq) this.sync();
    this.checkWhole();
  }

  /** Notes what the connection ending now was never sent unasked (see `unsent`). */
  closeConnection() {
    const c = this.connection;
    this.connection = null;
    if (!c || c.head === null || c.unsure) return;
    const live = (seq) => (c.arrived.get(seq) ?? 0) - c.replays.filter(([lo, hi]) => seq > lo && seq <= hi).length;
    let newest = 0;
    for (const seq of c.arrived.keys()) if (seq > newest && live(seq) > 0) newest = seq;
    const at = performance.now();
    for (let seq = c.head + 1; seq < newest; seq++) {
      if (live(seq) <= 0) this.unsent.push({ seq, at, head: c.head, connected: c.since, announced: seq <= c.told });
    }
  }

  /** Records when the client holds everything again after a lost connection. */
  checkWhole() {
    const drop = this.drops.at(-1);
    if (!drop || drop.wholeAt !== null || drop.connectedAt === null || this.syncedHead === null) return;
    if (this.cursor.seq >= this.syncedHead && this.newestSeq() <= this.cursor.seq) drop.wholeAt = performance.now();
  }

  /** Resolves with the time at which the cursor reaches `seq` (at once if it has). */
  reaches(seq) {
    if (this.cursor.seq >= seq) return Promise.resolve(performance.now());
    return new Promise((resolve) => this.watchers.push({ seq, resolve }));
  }

  newestSeq() {
    let max = 0;
    for (const s of this.held.keys()) max = Math.max(max, s);
    return max;
  }

  /**
   * Fetches what is missing after the cursor, one request at a time; asked again while one
   * is under way, it asks once more when that one ends, as the browser's `synced` does.
   */
  sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    return this.replaying(async () => {
      this.syncs += 1;
      const connection = this.connection;
      const from = this.cursor.seq;
      // Unanswered, its replay's extent is unknown.
      if (connection) connection.unsure = true;
      const ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck('sync', { since: { [ROOM]: this.cursor.id } });
      if (connection) connection.unsure = false;
      if (ack?.data) {
        for (const s of ack.data) if (!s.gap) connection?.replays.push([from, s.lastSeq]);
        ack.data.forEach((s) => this.settle(s));
      }
      else if (ack?.error?.code === 'rate_limited' || ack?.error?.code === 'overloaded') {
        this.throttled += 1;
        await pause(ack.error.retry_after_ms);
        this.syncAgain = true;
      } else if (ack?.error?.code === 'unavailable') {
        this.unavailable += 1;
        await pause(200 + this.random() * 300);
        this.syncAgain = true;
      } else if (ack?.error) throw new Error(`${this.name}: sync refused: ${JSON.stringify(ack.error)}`);
    });
  }

  /**
   * More was missed than the server replays: page back through `history` from the newest
   * message to the cursor, as a reader scrolling up would, so the check can still demand the
   * full list.
   */
  fillGap() {
    // Pages of history are not counted as replays: this connection's live deliveries are
    // not told apart from them.
    if (this.connection) this.connection.unsure = true;
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
    this.syncAgain = false;
    this.socket.off('chat message');
    this.socket.on('chat message', (text, id, meta) => this.receive(id, meta.seq, true));
    try {
      await request();
    } catch (e) {
      // Disconnected or timed out: the next connect catches up from the cursor anyway.
      if (!/timed out|disconnected/i.test(e.message)) console.error(`${this.name}: ${e.message}`);
    } finally {
      this.socket.off('chat message');
      this.socket.on('chat message', (text, id, meta) => this.receive(id, meta.seq, false));
      this.syncing = false;
    }
    if (this.syncAgain && this.socket.connected) {
      this.syncAgain = false;
      if (this.newestSeq() > this.cursor.seq || (this.syncedHead ?? 0) > this.cursor.seq) this.sync();
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
        const error = outcome.ack?.error;
        if (outcome.ack?.data) {
          this.outbox.shift();
          this.acked.push({ ...head, id: outcome.ack.data.id, seq: outcome.ack.data.seq });
        } else if (error?.code === 'rate_limited' || error?.code === 'overloaded') {
          // A backlog written offline goes out faster than the rate limit: wait as told.
          this.throttled += 1;
          await pause(error.retry_after_ms);
        } else if (error?.code === 'unavailable') {
          // Not stored (the database is away): the same offset again, a little later.
          this.unavailable += 1;
          await pause(200 + this.random() * 300);
        } else if (error) {
          throw new Error(`${head.text} refused: ${JSON.stringify(error)}`);
        } else if (outcome.timeout) {
          await pause(100 + this.random() * 300);
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
  async flap(between) {
    if (!this.socket.connected) return;
    this.socket.disconnect();
    await pause(between(100, 1500));
    this.socket.connect();
  }

  /** The lobby as the client holds it: the ids of seq 1..cursor. */
  view() {
    return Array.from({ length: this.cursor.seq }, (_, i) => this.held.get(i + 1));
  }

  close() {
    this.closeConnection();
    this.socket.close();
  }
}

/**
 * Holds the database (`db`: the lobby's rows, `{ id, seq, offset, text }`, in seq order) and
 * every client to the promise: each acknowledged message stored once, with the id and seq it
 * was acknowledged with; each room's ids rising with its seqs (catch-up cursors are ids);
 * every sender's messages stored in the order it sent them; and every client holding exactly
 * the stored list. Returns the figures and the failures.
 */
export function verify(clients, db) {
  const failures = [];
  const ids = db.map((r) => r.id);
  const seqHoles = db.filter((r, i) => r.seq !== i + 1).length;
  if (seqHoles) failures.push(`seq in the database is not 1..N (${seqHoles} rows out of place)`);
  const idsFalling = db.filter((r, i) => i > 0 && r.id <= db[i - 1].id).length;
  const posts = db.filter((r) => r.offset !== null);
  const offsets = new Set(posts.map((r) => r.offset));
  const texts = new Set(posts.map((r) => r.text));
  const storedTwice = posts.length - Math.min(offsets.size, texts.size);
  const byOffset = new Map(posts.map((r) => [r.offset, r]));
  const acked = clients.flatMap((c) => c.acked);
  let notStored = 0;
  for (const a of acked) {
    const row = byOffset.get(a.offset);
    if (!row || row.id !== a.id || row.seq !== a.seq || row.text !== a.text) notStored += 1;
  }
  // Each client sends one message at a time, so its messages must be stored in its order.
  let senderDisorder = 0;
  for (const c of clients) {
    const seqs = c.acked.map((a) => byOffset.get(a.offset)?.seq ?? Infinity);
    senderDisorder += seqs.filter((s, i) => i > 0 && s <= seqs[i - 1]).length;
  }
  // Every client's list against the database's: what it misses, and what stands elsewhere.
  let missing = 0;
  let misplaced = 0;
  let whole = 0;
  for (const c of clients) {
    const view = c.view();
    const has = new Set(view);
    const lacks = ids.filter((id) => !has.has(id)).length;
    const wrong = view.filter((id, i) => id !== ids[i] && ids.includes(id)).length;
    missing += lacks;
    misplaced += wrong;
    if (view.length === ids.length && !lacks && !wrong) whole += 1;
  }
  const conflicts = sum(clients, (c) => c.conflicts);
  const lost = notStored + missing;
  const doubled = storedTwice + conflicts;
  const reordered = idsFalling + senderDisorder + misplaced;
  if (notStored) failures.push(`${notStored} acknowledged messages not stored as acknowledged`);
  if (missing) failures.push(`${missing} stored messages missing from clients' lists`);
  if (storedTwice) failures.push(`${storedTwice} messages stored twice`);
  if (conflicts) failures.push(`${conflicts} deliveries contradicting what a client held (a seq with two ids)`);
  if (idsFalling) failures.push(`${idsFalling} messages whose id is below their predecessor's in seq order`);
  if (senderDisorder) failures.push(`${senderDisorder} messages stored before an earlier one of their sender`);
  if (misplaced) failures.push(`${misplaced} messages out of place in clients' lists`);
  if (new Set(acked.map((a) => a.id)).size !== acked.length) failures.push('two sends acknowledged with the same id');
  const refusals = sum(clients, (c) => c.refusals);
  if (refusals) failures.push(`${refusals} connections refused by the server`);
  return {
    failures,
    figures: {
      acked: acked.length,
      offline: acked.filter((a) => a.offline).length,
      stored: db.length,
      lost,
      doubled,
      reordered,
      whole,
      refusals,
      deliveries: sum(clients, (c) => c.deliveries),
      redundant: sum(clients, (c) => c.redundant),
      ahead: sum(clients, (c) => c.ahead),
      duplicates: sum(clients, (c) => c.duplicates),
      disorder: sum(clients, (c) => c.disorder),
      syncs: sum(clients, (c) => c.syncs),
      heads: sum(clients, (c) => c.heads),
      gaps: sum(clients, (c) => c.gaps),
      unavailable: sum(clients, (c) => c.unavailable),
      retriedRefusals: sum(clients, (c) => c.retriedRefusals),
      throttled: sum(clients, (c) => c.throttled),
    },
  };
}
