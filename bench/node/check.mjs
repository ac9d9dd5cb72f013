// Smoke test of server.mjs's wire contract: starts the server on a free port, drives it with
// socket.io-client, exits non-zero on the first failure.
//
//   node check.mjs              in memory
//   node check.mjs --persist    also with SQLite (a temporary file, removed afterwards)

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const persist = process.argv.includes("--persist");
const dir = persist ? mkdtempSync(join(tmpdir(), "palaver-ref-")) : null;
const dbFile = dir && join(dir, "ref.db");

const args = ["server.mjs", "--port", "0", ...(dbFile ? ["--persist", dbFile] : [])];
const server = spawn(process.execPath, args, {
  cwd: import.meta.dirname,
  stdio: ["ignore", "pipe", "inherit"],
});
const port = await new Promise((resolve, reject) => {
  server.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  createInterface({ input: server.stdout }).on("line", (line) => {
    const m = /^listening (\d+)$/.exec(line);
    if (m) resolve(Number(m[1]));
  });
});
const url = `http://127.0.0.1:${port}`;

const sockets = [];
function connect(auth = {}, transports = ["websocket"]) {
  const s = io(url, { auth, transports, reconnection: false, forceNew: true });
  sockets.push(s);
  // Collect every event from the start, so nothing emitted right after connect is missed.
  s.events = [];
  s.onAny((...e) => s.events.push(e));
  return s;
}
const connected = (s) =>
  new Promise((resolve, reject) => {
    s.once("connect", resolve);
    s.once("connect_error", reject);
  });
const refused = (s) =>
  new Promise((resolve, reject) => {
    s.once("connect", () => reject(new Error("connected, expected a refusal")));
    s.once("connect_error", (e) => resolve(e.message));
  });
const request = (s, ...args) => s.timeout(5000).emitWithAck(...args);
async function waitFor(s, pred, what) {
  for (let i = 0; i < 200; i++) {
    const hit = s.events.find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

let failed = false;
try {
  // Identity.
  const ann = connect({ name: "Ann" });
  const bob = connect({ name: "bob" }, ["polling", "websocket"]); // the upgrade path too
  const guest = connect();
  await Promise.all([ann, bob, guest].map(connected));
  assert.equal(await refused(connect({ name: "ANN" })), "name_taken");
  assert.equal(await refused(connect({ name: "bad name!" })), "invalid_name");
  assert.equal(await refused(connect({ name: "Anonymous" })), "invalid_name");
  assert.equal(await refused(connect({ name: "x".repeat(33) })), "invalid_name");
  const session = await waitFor(ann, (e) => e[0] === "session", "session");
  assert.equal(session[1].name, "Ann");
  assert.equal(ann.events[0][0], "session", "session comes first");
  assert.equal(guest.events.length, 0, "guests get no session");

  // Rooms.
  assert.deepEqual(await request(guest, "create room", { name: "rust" }), {
    error: { code: "name_required", message: "choose a name first" },
  });
  const created = await request(ann, "create room", { name: "  Rust " });
  assert.deepEqual(created, {
    data: { room: "rust", kind: "room", title: "rust", members: 1, online: 1, joined: true, unread: 0, lastSeq: 0 },
  });
  assert.equal((await request(bob, "create room", { name: "rust" })).error.code, "room_exists");
  assert.equal((await request(bob, "create room", { name: "-x" })).error.code, "invalid_room_name");
  assert.equal((await request(bob, "create room", "rust")).error.code, "invalid_payload");
  assert.equal((await request(bob, "join room", { room: "nope" })).error.code, "unknown_room");

  // Not yet a member.
  const early = await request(bob, "chat message", "too early", "bob-0", "rust");
  assert.deepEqual(early.error, { code: "not_member", message: "not a member of rust", room: "rust" });

  const joined = await request(bob, "join room", { room: "rust" });
  assert.deepEqual([joined.data.members, joined.data.online], [2, 2]);

  // A message in the room: both members get it, the guest does not; ack { data: { id, ts, seq } }.
  const ack = await request(ann, "chat message", "  hello rust ", "ann-1", "rust");
  assert.deepEqual(Object.keys(ack.data), ["id", "ts", "seq"]);
  assert.equal(ack.data.seq, 1);
  for (const s of [ann, bob]) {
    const [, text, id, meta] = await waitFor(s, (e) => e[0] === "chat message" && e[3].room === "rust", "broadcast");
    assert.equal(text, "hello rust");
    assert.equal(id, ack.data.id);
    assert.deepEqual(meta, { room: "rust", author: "Ann", ts: ack.data.ts, seq: 1, clientOffset: "ann-1" });
  }

  // A retry with the same offset: the same ack, no second broadcast.
  assert.deepEqual(await request(ann, "chat message", "hello rust", "ann-1", "rust"), ack);
  const second = await request(ann, "chat message", "again", null, "rust");
  assert.deepEqual([second.data.id, second.data.seq], [ack.data.id + 1, 2]);
  await waitFor(bob, (e) => e[1] === "again", "second broadcast");
  assert.equal(bob.events.filter((e) => e[0] === "chat message" && e[3].room === "rust").length, 2);
  assert.ok(!("clientOffset" in bob.events.find((e) => e[1] === "again")[3]), "no clientOffset when none given");
  assert.equal(guest.events.filter((e) => e[0] === "chat message").length, 0, "the guest is not in rust");

  // The lobby: guests post there (the tutorial's client), everyone receives it, seqs are per room.
  const lobby = await request(guest, "chat message", "hi all", 7);
  assert.deepEqual([lobby.data.id, lobby.data.seq], [ack.data.id + 2, 1]);
  for (const s of [ann, bob, guest]) {
    const e = await waitFor(s, (e) => e[1] === "hi all", "lobby broadcast");
    assert.deepEqual(e[3], { room: "lobby", author: "anonymous", ts: lobby.data.ts, seq: 1, clientOffset: "7" });
  }
  assert.equal((await request(guest, "chat message", "x", null, "rust")).error.code, "not_member");

  // Validation.
  assert.equal((await request(ann, "chat message", "   ")).error.code, "empty");
  assert.equal((await request(ann, "chat message", "y".repeat(4001))).error.code, "too_long");
  assert.equal((await request(ann, "chat message", "🦀".repeat(4000))).data.seq, 2, "4000 scalar values fit");
  assert.equal((await request(ann, "chat message", 42)).error.code, "invalid_payload");
  assert.equal((await request(ann, "chat message", "x", "o".repeat(129))).error.code, "offset_too_long");
  assert.deepEqual((await request(ann, "what")).error.code, "unknown_event");
  assert.deepEqual((await request(ann, "kick", {})).error.code, "admin_only");
  ann.emit("chat message", "no ack please"); // without an ack: posted, not answered
  await waitFor(bob, (e) => e[1] === "no ack please", "ack-less broadcast");

  // The tutorial's catch-up: a client without cursors is replayed the lobby after its offset;
  // a client with cursors (`since`) is not (this server has no per-room catch-up).
  const late = connect({ serverOffset: lobby.data.id });
  const cursors = connect({ since: {} });
  await Promise.all([late, cursors].map(connected));
  await waitFor(late, (e) => e[1] === "no ack please", "replay");
  assert.deepEqual(late.events.filter((e) => e[0] === "chat message").map((e) => e[3].seq), [2, 3]);
  assert.equal(cursors.events.length, 0, "no replay with cursors");
  assert.equal(await (await fetch(`${url}/healthz`)).text(), "ok");

  // A name is free again once its holder leaves.
  ann.disconnect();
  await new Promise((r) => setTimeout(r, 100));
  await connected(connect({ name: "ann" }));

  console.log(`ok${persist ? " (persist)" : ""}`);
} catch (e) {
  failed = true;
  console.error(e);
} finally {
  for (const s of sockets) s.disconnect();
  server.kill("SIGTERM");
  const code = await new Promise((r) => server.once("exit", (c) => r(c)));
  if (code !== 0) {
    console.error(`server exited with ${code} on SIGTERM`);
    failed = true;
  }
}

if (persist && !failed) {
  // Every acked message is in the table, in order.
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(dbFile, { readonly: true });
  const rows = db.prepare("SELECT id, room, author, text, client_offset, seq FROM messages ORDER BY id").all();
  db.close();
  try {
    assert.deepEqual(
      rows.map((r) => [r.room, r.author, r.seq, r.client_offset]),
      [
        ["rust", "Ann", 1, "ann-1"],
        ["rust", "Ann", 2, null],
        ["lobby", "anonymous", 1, "7"],
        ["lobby", "Ann", 2, null],
        ["lobby", "Ann", 3, null],
      ],
    );
    console.log(`ok: ${rows.length} rows stored`);
  } catch (e) {
    failed = true;
    console.error(e);
  }
}
if (dir) rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
