// The reference server for Palaver's benchmarks: a plain socket.io 4 chat server with the same
// rooms, events, ack envelopes and broadcast pattern as Palaver (docs/protocol.md), so that one
// load generator can drive both. It keeps only what a load test exercises: no `since` catch-up,
// history, presence, `rooms` lists, direct conversations or rate limits. It does replay the
// lobby to the tutorial's client (`auth.serverOffset`, no `since`), as the tutorial's server
// does, bounded like Palaver's to the newest 1,000: the connection-storm scenario needs it.
//
//   node server.mjs [--port N] [--persist FILE]
//
// Prints `listening <port>` once listening (port 0 picks a free port).
//
// With REDIS_URL set, it is one node of several: `@socket.io/redis-adapter` carries broadcasts
// to the other nodes, and the room names live in Redis (a set), so that a room created on one
// node can be joined on another. Everything else stays in the node's memory: names, members,
// ids and seqs (the benchmark publishes from one node), and the idempotence map.

import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const { values: opts } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PORT ?? "3000" },
    persist: { type: "string" },
  },
});

const LOBBY = "lobby";
const MAX_TEXT = 4000;
const MAX_OFFSET = 128;
const MAX_ROOM_NAME = 32;
const SESSION_MS = 30 * 24 * 3600 * 1000;
// Bounds the idempotence map; past it the oldest offsets are forgotten (Map keeps insertion order).
const MAX_OFFSETS = 1_000_000;
// Palaver's catch-up window (MAX_REPLAY): the most lobby messages replayed on connect.
const MAX_REPLAY = 1000;
const NAME_RE = /^[A-Za-z0-9._-]{1,32}$/;
const ROOM_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const RESERVED_NAMES = new Set(["anonymous", "admin"]);
const ADMIN_EVENTS = new Set(["kick", "announce", "delete message", "recent"]);
const KNOWN_EVENTS = new Set(["chat message", "create room", "join room"]);

// room name -> { members: Set of name keys, seq: newest seq in the room }
const rooms = new Map([[LOBBY, { members: new Set(), seq: 0 }]]);
// lowercased name -> the socket holding it; names are unique among connected sockets.
const names = new Map();
// client offset -> the { id, ts, seq } it was first acked with.
const posted = new Map();
let lastId = 0;
// The lobby's newest messages, oldest first, as the arguments of `chat message`.
let lobbyLog = [];

const db = opts.persist ? await openStore(opts.persist) : null;
const cluster = process.env.REDIS_URL ? await joinCluster(process.env.REDIS_URL) : null;

// REDIS_URL: a publishing and a subscribing connection for the adapter; the first also keeps
// the room names.
async function joinCluster(url) {
  const [{ createClient }, { createAdapter }] = await Promise.all([
    import("redis"),
    import("@socket.io/redis-adapter"),
  ]);
  const pub = createClient({ url });
  const sub = pub.duplicate();
  for (const client of [pub, sub]) client.on("error", (e) => console.error(`redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  return { adapter: createAdapter(pub, sub), pub, sub };
}
const ROOMS_KEY = "palaver-bench:rooms";

// --persist: every message is inserted (and committed, fsynced) before it is broadcast and acked,
// as Palaver does, and as the Socket.IO tutorial's server does with SQLite.
async function openStore(file) {
  let Database;
  try {
    ({ default: Database } = await import("better-sqlite3"));
  } catch (e) {
    console.error(`--persist needs better-sqlite3, which is not installed or not built: ${e.message}`);
    process.exit(2);
  }
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL"); // Palaver's setting: each acked message is durable.
  db.exec(`CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    room TEXT NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    client_offset TEXT UNIQUE,
    created_at INTEGER NOT NULL,
    seq INTEGER NOT NULL
  )`);
  // A reused file continues its ids and seqs, so they stay strictly increasing.
  for (const { room, seq } of db.prepare("SELECT room, MAX(seq) AS seq FROM messages GROUP BY room").all()) {
    rooms.set(room, { members: rooms.get(room)?.members ?? new Set(), seq });
  }
  lastId = db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM messages").get().id;
  const insert = db.prepare(
    "INSERT INTO messages (room, author, text, client_offset, created_at, seq) VALUES (?, ?, ?, ?, ?, ?)",
  );
  const byOffset = db.prepare("SELECT id, created_at AS ts, seq FROM messages WHERE client_offset = ?");
  return { db, insert, byOffset };
}

// Socket.IO answers under /socket.io/ before this handler sees a request.
const httpServer = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404, { "content-type": "text/plain" });
  res.end(req.url === "/healthz" ? "ok" : "not found");
});
const io = new Server(httpServer, {
  serveClient: false,
  maxHttpBufferSize: 64 * 1024,
  transports: ["websocket", "polling"],
  ...(cluster ? { adapter: cluster.adapter } : {}),
});

class ChatError extends Error {
  constructor(code, message, extra = {}) {
    super(message);
    this.code = code;
    this.extra = extra;
  }
}

// Every ack is one argument: { data } or { error: { code, message, ...details } }.
function answer(ack, run) {
  let reply;
  try {
    reply = { data: run() };
  } catch (e) {
    if (!(e instanceof ChatError)) throw e;
    reply = { error: { code: e.code, message: e.message, ...e.extra } };
  }
  if (ack) ack(reply);
}

// `answer` for a `run` that may need Redis first (room names, with REDIS_URL).
async function answerAsync(ack, run) {
  let reply;
  try {
    reply = { data: await run() };
  } catch (e) {
    if (!(e instanceof ChatError)) {
      console.error(`request failed: ${e.message}`);
      e = new ChatError("unavailable", "the server could not answer; try again");
    }
    reply = { error: { code: e.code, message: e.message, ...e.extra } };
  }
  if (ack) ack(reply);
}

// Socket.IO puts the ack callback last, after however many arguments the client sent.
function splitAck(args) {
  return typeof args.at(-1) === "function" ? [args.slice(0, -1), args.at(-1)] : [args, null];
}

function requireName(socket) {
  if (!socket.data.name) throw new ChatError("name_required", "choose a name first");
  return socket.data.name.toLowerCase();
}

function payload(value, field) {
  if (value === null || typeof value !== "object" || typeof value[field] !== "string") {
    throw new ChatError("invalid_payload", `expected an object with a string \`${field}\``);
  }
  return value[field];
}

// The room's entry, as Palaver acks `create room` and `join room`.
function entry(name) {
  const room = rooms.get(name);
  // Online: people (each once) with a socket in the room.
  const online = new Set();
  for (const id of io.of("/").adapter.rooms.get(name) ?? []) {
    const who = io.of("/").sockets.get(id)?.data.name;
    if (who) online.add(who.toLowerCase());
  }
  return {
    room: name,
    kind: "room",
    title: name,
    members: room.members.size,
    online: online.size,
    joined: true,
    unread: 0,
    lastSeq: room.seq,
  };
}

// Identity is decided once, at connect, from `auth.name`; there are no real session tokens.
io.use((socket, next) => {
  const { name } = socket.handshake.auth ?? {};
  if (name === undefined || name === null) return next();
  if (typeof name !== "string" || !NAME_RE.test(name) || RESERVED_NAMES.has(name.toLowerCase())) {
    return next(new Error("invalid_name"));
  }
  const key = name.toLowerCase();
  const holder = names.get(key);
  if (holder && holder !== socket) return next(new Error("name_taken"));
  // Reserved here, not on connection, so two handshakes in the same tick cannot both claim it;
  // released when the socket or its transport goes away (a socket can die before it connects).
  names.set(key, socket);
  const release = () => names.get(key) === socket && names.delete(key);
  socket.on("disconnect", release);
  socket.conn.once("close", release);
  socket.data.name = name;
  next();
});

io.on("connection", (socket) => {
  const name = socket.data.name;
  if (name) socket.emit("session", { name, token: "ref", expiresAt: Date.now() + SESSION_MS });
  socket.join(LOBBY);
  // The tutorial's catch-up: the lobby's messages after `serverOffset`. Clients with cursors
  // (`since`, Palaver's own) get none here: this server has no per-room catch-up.
  const auth = socket.handshake.auth ?? {};
  if (auth.since === undefined || auth.since === null) {
    const after = Number(auth.serverOffset) || 0;
    for (const args of lobbyLog.slice(-MAX_REPLAY)) if (args[1] > after) socket.emit("chat message", ...args);
  }

  socket.on("create room", (...all) => {
    const [[request], ack] = splitAck(all);
    answerAsync(ack, async () => {
      const person = requireName(socket);
      const room = payload(request, "name").trim().toLowerCase();
      if (!ROOM_RE.test(room)) {
        throw new ChatError("invalid_room_name", "invalid room name", { max: MAX_ROOM_NAME });
      }
      const exists = () => new ChatError("room_exists", `room ${room} exists`, { room });
      if (rooms.has(room)) throw exists();
      // Several nodes: the name is claimed in Redis, once for all of them.
      if (cluster && (await cluster.pub.sAdd(ROOMS_KEY, room)) === 0) throw exists();
      if (rooms.has(room)) throw exists();
      rooms.set(room, { members: new Set([person]), seq: 0 });
      socket.join(room);
      return entry(room);
    });
  });

  socket.on("join room", (...all) => {
    const [[request], ack] = splitAck(all);
    answerAsync(ack, async () => {
      const person = requireName(socket);
      const room = payload(request, "room");
      // As in Palaver, only the canonical spelling names a room. Several nodes: a room
      // another node created is known here from its first join on.
      if (!rooms.has(room) && cluster && (await cluster.pub.sIsMember(ROOMS_KEY, room))) {
        if (!rooms.has(room)) rooms.set(room, { members: new Set(), seq: 0 });
      }
      if (!rooms.has(room)) throw new ChatError("unknown_room", `no room ${room}`, { room });
      rooms.get(room).members.add(person);
      socket.join(room);
      return entry(room);
    });
  });

  socket.on("chat message", (...all) => {
    const [[rawText, rawOffset, rawRoom], ack] = splitAck(all);
    answer(ack, () => post(socket, rawText, rawOffset, rawRoom));
  });

  // Anything else: answered like Palaver does, when the client asked for an answer.
  socket.onAny((event, ...args) => {
    if (KNOWN_EVENTS.has(event)) return;
    const [, ack] = splitAck(args);
    if (!ack) return;
    const code = ADMIN_EVENTS.has(event) ? "admin_only" : "unknown_event";
    ack({ error: { code, event, message: `unknown event \`${event}\`` } });
  });
});

function post(socket, rawText, rawOffset, rawRoom) {
  if (typeof rawText !== "string") throw new ChatError("invalid_payload", "text must be a string", { event: "chat message" });
  if (rawRoom !== undefined && rawRoom !== null && typeof rawRoom !== "string") {
    throw new ChatError("invalid_payload", "room must be a string", { event: "chat message" });
  }
  // Like Palaver: only a string or number is an offset; anything else counts as absent.
  const clientOffset =
    typeof rawOffset === "string" ? rawOffset : typeof rawOffset === "number" ? String(rawOffset) : undefined;
  const text = rawText.trim();
  if (!text) throw new ChatError("empty", "the message is empty");
  // Counted in Unicode scalar values, as Palaver does; UTF-16 length is an upper bound, so the
  // spread only runs for texts that might be too long.
  if (text.length > MAX_TEXT && [...text].length > MAX_TEXT) {
    throw new ChatError("too_long", "the message is too long", { max: MAX_TEXT });
  }
  if (clientOffset !== undefined && clientOffset.length > MAX_OFFSET) {
    throw new ChatError("offset_too_long", "the client offset is too long", { max: MAX_OFFSET });
  }
  const room = rawRoom ?? LOBBY;
  if (!rooms.has(room)) throw new ChatError("unknown_room", `no room ${room}`, { room });
  if (!socket.rooms.has(room)) throw new ChatError("not_member", `not a member of ${room}`, { room });

  // A retry: acked again with what it got the first time, stored and broadcast only once.
  if (clientOffset !== undefined) {
    const seen = posted.get(clientOffset);
    if (seen) return seen;
  }

  const author = socket.data.name ?? "anonymous";
  const ts = Date.now();
  const state = rooms.get(room);
  const seq = state.seq + 1;
  let id = lastId + 1;
  if (db) {
    try {
      // Synchronous and autocommitted: the row is durable before we go on.
      id = Number(db.insert.run(room, author, text, clientOffset ?? null, ts, seq).lastInsertRowid);
    } catch (e) {
      // An offset evicted from `posted` but still in the table.
      if (e.code === "SQLITE_CONSTRAINT_UNIQUE") return db.byOffset.get(clientOffset);
      console.error(`insert failed: ${e.message}`);
      throw new ChatError("unavailable", "the server could not store the message; try again");
    }
  }
  lastId = id;
  state.seq = seq;
  const result = { id, ts, seq };
  if (clientOffset !== undefined) {
    posted.set(clientOffset, result);
    if (posted.size > MAX_OFFSETS) posted.delete(posted.keys().next().value);
  }

  const meta = { room, author, ts, seq };
  if (clientOffset !== undefined) meta.clientOffset = clientOffset;
  // To the whole room, the sender included, before the ack (Palaver's order).
  io.to(room).emit("chat message", text, id, meta);
  if (room === LOBBY) {
    lobbyLog.push([text, id, meta]);
    // Trimmed in steps, so that a long run does not shift the array on every message.
    if (lobbyLog.length >= 2 * MAX_REPLAY) lobbyLog = lobbyLog.slice(-MAX_REPLAY);
  }
  return result;
}

httpServer.listen(Number(opts.port), "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  // io.close() disconnects every socket and closes the HTTP server.
  io.close(() => {
    db?.db.close();
    cluster?.pub.disconnect().catch(() => {});
    cluster?.sub.disconnect().catch(() => {});
    process.exit(0);
  });
  // Lingering keep-alive connections must not hold the process up.
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
