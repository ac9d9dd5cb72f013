// Two Palaver nodes on one Postgres database, linked through one Redis, behind a real HAProxy
// run from the shipped deploy/haproxy.cfg, with the official socket.io-client polling first
// (its default): with the shipped stickiness every Engine.IO session stays on the node that
// opened it and upgrades to a WebSocket there, and what one node's client posts reaches the
// other node's clients live; without stickiness, the other node refuses the session's next
// request. The nodes are given no secrets: they share those the first one kept in the
// database. Then one node is taken out, restarted and put back, as docs/deploy.md's upgrade
// procedure says. Last, the shipped deploy/nginx.conf keeps each session on its node too, by a
// cookie of its own.
import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { io } from 'socket.io-client';
import { HAProxy } from '../support/haproxy.mjs';
import { Nginx } from '../support/nginx.mjs';
import { PalaverServer, freePort } from '../support/server.mjs';
import { Postgres, Redis } from '../support/services.mjs';
import { CHAT, send } from '../support/sio.mjs';

const CLIENTS = 6;
const POLLING_FIRST = { transports: ['polling', 'websocket'] };

// The load balancer's port is chosen first: every node is told it is served there.
let port;
let nodes = [];
let proxy;
let nginx;
let postgres;
let redis;
let database;

/**
 * Settings every node gets alike, as in production: one Postgres database and one Redis. No
 * session secret or admin token: the first node makes them and keeps them in the database.
 */
function clusterEnv() {
  return {
    PALAVER_PUBLIC_URL: `http://127.0.0.1:${port}`,
    PALAVER_TRUSTED_PROXIES: '127.0.0.1',
    DATABASE_URL: database,
    PALAVER_REDIS_URL: redis.url,
  };
}

before(async () => {
  port = await freePort();
  [postgres, redis] = await Promise.all([Postgres.start(), Redis.start()]);
  database = postgres.database();
  const env = clusterEnv();
  nodes = [await PalaverServer.start(env), await PalaverServer.start(env)];
});
after(async () => {
  for (const node of nodes) await node.dispose();
  await redis?.remove();
  await postgres?.remove();
});
afterEach(async () => {
  await proxy?.dispose();
  await nginx?.dispose();
  proxy = nginx = null;
});

/** HAProxy from the shipped file in front of the nodes, once its checks find them all up. */
async function balancer({ sticky }) {
  proxy = await HAProxy.shipped({ port, nodes: nodes.map((n) => `127.0.0.1:${n.port}`), sticky });
  await proxy.waitUntil('UP');
  return proxy;
}

/** Each node's count of messages stored, read from the node itself (0 while it is stopped). */
async function storedPerNode() {
  return Promise.all(
    nodes.map(async (node) => {
      if (!node.proc) return 0;
      const text = await (await fetch(`${node.url}/metrics`)).text();
      return Number(text.match(/^palaver_messages_stored_total (\d+)$/m)[1]);
    }),
  );
}

/** The index of the one node whose count of stored messages rose by one since `before`. */
async function nodeThatStored(before) {
  const now = await storedPerNode();
  const rose = now.map((n, i) => n - before[i]);
  assert.equal(rose.filter((d) => d === 1).length, 1, `one node stored the message: ${rose}`);
  assert.equal(rose.reduce((a, b) => a + b), 1, `and no other: ${rose}`);
  return rose.indexOf(1);
}

/**
 * Opens a socket through the balancer at `url`. Resolves once connected, with its Engine.IO session
 * id, or rejects with the connect_error (with that id as `sid`, and the failed request's
 * answer as `answer`).
 */
function open(url, options) {
  // The Node client keeps cookies (the balancer's) only when asked to.
  const socket = io(url, { reconnection: false, forceNew: true, withCredentials: true, ...options });
  let sid;
  socket.io.on('open', () => (sid = socket.io.engine.id));
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve({ socket, sid }));
    socket.once('connect_error', (err) => {
      // Closing aborts the request the error came from, and empties its answer: keep it first.
      const answer = err.context?.responseText;
      socket.close();
      reject(Object.assign(err, { sid, answer }));
    });
  });
}

/** `promise`, or a rejection naming `what` once `ms` have passed. */
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Resolves once the socket's transport is a WebSocket. */
function upgraded(socket) {
  const engine = socket.io.engine;
  if (engine.transport.name === 'websocket') return Promise.resolve();
  return new Promise((resolve) => engine.once('upgrade', resolve));
}

/**
 * Connects through the balancer at `url`, upgrades, posts a message; resolves with the session
 * id and the node that stored it.
 */
async function postThrough(url, options, text) {
  const before = await storedPerNode();
  const { socket, sid } = await open(url, options);
  if (options.transports[0] === 'polling') await upgraded(socket);
  assert.equal(socket.io.engine.transport.name, 'websocket');
  const ack = await send(socket, text);
  assert.ok(Number.isInteger(ack.data?.id), JSON.stringify(ack));
  return { socket, sid, node: await nodeThatStored(before) };
}

/** The requests the balancer logged for Engine.IO session `sid`. */
function requestsOf(requests, sid) {
  return requests.filter((r) => r.sid === sid);
}

test('with the shipped stickiness, polling-first sessions stay on their node and upgrade there', async () => {
  await balancer({ sticky: true });
  const clients = [];
  // One at a time, each kept open: the balancer's choice is then the one it makes for
  // newcomers, by its own rule (the node with the fewest connections).
  for (let i = 0; i < CLIENTS; i++) clients.push(await postThrough(proxy.url, POLLING_FIRST, `sticky ${i}`));
  const served = nodes.map((_, n) => clients.filter((c) => c.node === n).length);
  assert.ok(served.every((count) => count > 0), `both nodes served clients: ${served}`);
  for (const { socket } of clients) socket.close();

  // Every request of a session, long polls and the upgrade alike, reached the node that
  // stored its message.
  const requests = await proxy.logged(
    (logged) => clients.every(({ sid }) => requestsOf(logged, sid).some((r) => r.transport === 'websocket')),
    'every session\'s WebSocket',
  );
  for (const { sid, node } of clients) {
    const own = requestsOf(requests, sid);
    assert.ok(own.some((r) => r.transport === 'polling'), `session ${sid} polled before upgrading`);
    assert.ok(own.some((r) => r.transport === 'websocket' && r.status === 101), `session ${sid} upgraded`);
    assert.deepEqual([...new Set(own.map((r) => r.server))], [`node${node + 1}`], `session ${sid}: ${JSON.stringify(own)}`);
  }
});

test('what a polling-first client posts on one node reaches a client of the other node live, through Redis', async () => {
  await balancer({ sticky: true });
  // The balancer sends a newcomer to the node holding the fewest connections: the second
  // client goes to the other node.
  const ann = await postThrough(proxy.url, POLLING_FIRST, 'ann is here');
  const bob = await postThrough(proxy.url, POLLING_FIRST, 'bob is here');
  assert.notEqual(ann.node, bob.node, 'one client on each node');
  const heard = new Promise((resolve) => {
    bob.socket.on(CHAT, (text, id, meta) => {
      if (text === 'across the nodes') resolve({ id, seq: meta.seq });
    });
  });
  const before = await storedPerNode();
  const ack = await send(ann.socket, 'across the nodes', `across-${Date.now()}`);
  assert.equal(await nodeThatStored(before), ann.node, 'stored by the sender’s node');
  assert.deepEqual(await within(heard, 10_000, 'the other node’s client to hear it'), { id: ack.data.id, seq: ack.data.seq }, 'delivered live on the other node as stored');
  for (const { socket } of [ann, bob]) socket.close();
});

test('the nodes share the session key and the admin token the first one kept in the database', async () => {
  await balancer({ sticky: true });
  const name = `ann${Date.now() % 100000}`;
  // A named session, opened on whichever node the balancer picks.
  const first = io(proxy.url, { reconnection: false, forceNew: true, transports: ['websocket'], auth: { name } });
  const session = await new Promise((resolve, reject) => {
    first.once('session', resolve);
    first.once('connect_error', reject);
  });
  let before = await storedPerNode();
  await send(first, 'signed in');
  const node = await nodeThatStored(before);
  first.close();

  // Its token, taken to the other node (named by HAProxy's cookie), proves the same person.
  const other = 1 - node;
  const again = io(proxy.url, {
    reconnection: false,
    forceNew: true,
    transports: ['websocket'],
    auth: { token: session.token },
    extraHeaders: { cookie: `SERVERID=node${other + 1}` },
  });
  const resumed = await new Promise((resolve, reject) => {
    again.once('session', resolve);
    again.once('connect_error', reject);
  });
  assert.equal(resumed.name, name);
  before = await storedPerNode();
  await send(again, 'signed in elsewhere');
  assert.equal(await nodeThatStored(before), other, 'the token was taken to the other node');
  again.close();

  // Neither node was given an admin token: both accept the one kept in the database.
  const [{ value: token }] = await Postgres.rows(database, "SELECT value FROM settings WHERE key = 'admin-token'");
  for (const n of nodes) {
    const admin = io(`${n.url}/admin`, { reconnection: false, forceNew: true, transports: ['websocket'], auth: { token } });
    const stats = await new Promise((resolve, reject) => {
      admin.once('stats', resolve);
      admin.once('connect_error', reject);
    });
    assert.ok(Array.isArray(stats.namespaces), JSON.stringify(stats));
    admin.close();
  }
});

test('without stickiness, polling-first sessions are refused by the other node; WebSocket-only ones work', async () => {
  await balancer({ sticky: false });
  // Round robin over two nodes: the first client's handshake is the balancer's first choice
  // and its next request the second, on the other node, without fail. Later clients fare the
  // same unless a straggling request of the one before (given up) shifts the alternation.
  const outcomes = [];
  for (let i = 0; i < CLIENTS; i++) {
    try {
      const { socket, sid } = await open(proxy.url, POLLING_FIRST);
      socket.close();
      outcomes.push({ sid, connected: true });
    } catch (err) {
      // Engine.IO's answer to a session the node never opened.
      assert.equal(err.type, 'TransportError', err.message);
      assert.equal(err.description, 400, err.message);
      assert.equal(JSON.parse(err.answer).message, 'Session ID unknown');
      outcomes.push({ sid: err.sid, connected: false });
    }
  }
  assert.equal(outcomes[0].connected, false, 'the first client was refused');
  const refused = outcomes.filter((o) => !o.connected);

  // A WebSocket-only session is one request: any node will do.
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await postThrough(proxy.url, { transports: ['websocket'] }, `ws ${i}`));
  const served = nodes.map((_, n) => clients.filter((c) => c.node === n).length);
  assert.ok(served.every((count) => count > 0), `both nodes served WebSocket clients: ${served}`);
  for (const { socket } of clients) socket.close();

  // The n-th handshake (a poll without a session) opened the n-th session: the clients came
  // one at a time. A refused session was refused by the other node (and, once the client gave
  // up, maybe by its own too).
  const requests = await proxy.logged(
    (logged) =>
      logged.filter((r) => r.transport === 'polling' && !r.sid).length === CLIENTS &&
      refused.every(({ sid }) => requestsOf(logged, sid).some((r) => r.status === 400)),
    'every handshake and refusal',
  );
  const handshakes = requests.filter((r) => r.transport === 'polling' && !r.sid);
  assert.equal(handshakes.length, CLIENTS, JSON.stringify(requests));
  outcomes.forEach(({ sid, connected }, i) => {
    if (connected) return;
    const own = requestsOf(requests, sid);
    assert.equal(handshakes[i].status, 200);
    const refusals = own.filter((r) => r.status === 400);
    assert.ok(refusals.some((r) => r.server !== handshakes[i].server), `by the other node: ${JSON.stringify([handshakes[i], own])}`);
  });
});

test('one node is taken out, restarted and put back while its clients move to the other', async () => {
  await balancer({ sticky: true });
  const options = { ...POLLING_FIRST, reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 200 };
  const ann = await postThrough(proxy.url, options, 'before the upgrade');
  const [out, other] = [ann.node, 1 - ann.node];
  const name = `node${out + 1}`;

  // Out of the balancer: its open sockets stay, and nobody new comes.
  assert.equal(await proxy.command(`set server palaver/${name} state maint`), '\n');
  assert.equal((await proxy.states())[name], 'MAINT');
  const newcomer = await postThrough(proxy.url, POLLING_FIRST, 'a newcomer');
  assert.equal(newcomer.node, other);
  newcomer.socket.close();
  let before = await storedPerNode();
  await send(ann.socket, 'still on its node');
  assert.equal(await nodeThatStored(before), out);

  // Stopped, it closes its sockets; the client reconnects through the balancer, its cookie
  // naming the node out, and is sent to the other.
  const reconnected = new Promise((resolve) => ann.socket.once('connect', resolve));
  await nodes[out].stop();
  await reconnected;
  before = await storedPerNode();
  await send(ann.socket, 'after the move');
  assert.equal(await nodeThatStored(before), other);

  // Started again (upgraded, in real life) and healthy, it is put back, and takes newcomers
  // first: it holds the fewest sockets.
  await nodes[out].resume();
  assert.equal(await proxy.command(`set server palaver/${name} state ready`), '\n');
  await proxy.waitUntil('UP');
  const back = await postThrough(proxy.url, POLLING_FIRST, 'back');
  assert.equal(back.node, out);
  for (const { socket } of [ann, back]) socket.close();
});

test('nginx: the shipped configuration keeps each polling-first session on its node', async () => {
  nginx = await Nginx.shipped({ nodes: nodes.map((n) => `127.0.0.1:${n.port}`) });
  // Its certificate is the test's own.
  const options = { ...POLLING_FIRST, rejectUnauthorized: false };
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(await postThrough(nginx.url, options, `nginx ${i}`));
  for (const { socket } of clients) socket.close();

  // Hashed by its cookie, every request of a session reached the node that stored its message.
  const requests = await nginx.logged(
    (logged) => clients.every(({ sid }) => requestsOf(logged, sid).some((r) => r.transport === 'websocket')),
    'every session\'s WebSocket',
  );
  for (const { sid, node } of clients) {
    const own = requestsOf(requests, sid);
    assert.ok(own.some((r) => r.transport === 'polling'), `session ${sid} polled before upgrading`);
    assert.ok(own.some((r) => r.transport === 'websocket' && r.status === 101), `session ${sid} upgraded`);
    assert.deepEqual([...new Set(own.map((r) => r.node))], [`127.0.0.1:${nodes[node].port}`], `session ${sid}: ${JSON.stringify(own)}`);
  }
});
