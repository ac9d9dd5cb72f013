// The official socket.io-client using rooms and direct conversations: a client written in
// JavaScript, from docs/protocol.md alone, can do what the browser app does.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { io } from 'socket.io-client';
import { PalaverServer } from '../support/server.mjs';
import { Collector, connect, send } from '../support/sio.mjs';

let server;
beforeEach(async () => {
  server = await PalaverServer.start();
});
afterEach(async () => {
  await server?.dispose();
});

const ask = (socket, event, payload) => socket.timeout(10_000).emitWithAck(event, payload);

/** Connects as `name`, also collecting `rooms` lists. */
async function person(name) {
  const client = await connect(server.url, { transports: ['websocket'], auth: { name } });
  client.lists = new Collector();
  client.socket.on('rooms', (list) => client.lists.push(list));
  return client;
}

test('rooms: create, join, isolated delivery, leave', async () => {
  const ann = await person('ann');
  const bob = await person('bob');
  const cy = await person('cy');

  const created = await ask(ann.socket, 'create room', { name: 'Rust' });
  assert.equal(created.data.room, 'rust', JSON.stringify(created));
  assert.deepEqual((await ask(ann.socket, 'create room', { name: 'rust' })).error.code, 'room_exists');
  assert.equal((await ask(ann.socket, 'create room', { name: 'no spaces' })).error.code, 'invalid_room_name');
  assert.equal((await ask(bob.socket, 'join room', { room: 'nowhere' })).error.code, 'unknown_room');

  const joined = await ask(bob.socket, 'join room', { room: 'rust' });
  assert.deepEqual([joined.data.joined, joined.data.members], [true, 2]);
  const [[notice, , noticeMeta]] = await ann.received.next(1);
  assert.deepEqual([notice, noticeMeta.kind, noticeMeta.author], ['joined', 'joined', 'bob']);

  // The room is the third argument, after the text and the client offset.
  const ack = await send(ann.socket, 'in rust', 'ann-1', 'rust');
  assert.ok(Number.isInteger(ack.data.id), JSON.stringify(ack));
  const bobGot = await bob.received.next(2);
  assert.deepEqual(bobGot.map(([text, , meta]) => [text, meta.room]), [['joined', 'rust'], ['in rust', 'rust']]);
  // Cy is not in the room: his next message is the lobby one sent after.
  await send(ann.socket, 'in the lobby');
  const [[cyText, , cyMeta]] = await cy.received.next(1);
  assert.deepEqual([cyText, cyMeta.room], ['in the lobby', 'lobby']);
  assert.equal((await send(cy.socket, 'sneak', 'cy-1', 'rust')).error.code, 'not_member');

  assert.deepEqual(await ask(bob.socket, 'leave room', { room: 'rust' }), { data: { room: 'rust' } });
  assert.equal((await ask(bob.socket, 'leave room', { room: 'lobby' })).error.code, 'cannot_leave');
  for (const c of [ann, bob, cy]) c.socket.close();
});

test('a direct conversation reaches its two people and nobody else', async () => {
  const ann = await person('ann');
  const bob = await person('bob');
  const cy = await person('cy');
  const dm = (await ask(ann.socket, 'open dm', { name: 'bob' })).data;
  assert.deepEqual([dm.kind, dm.title], ['dm', 'bob']);
  await send(ann.socket, 'psst', 'ann-dm-1', dm.room);
  const [[text, , meta]] = await bob.received.next(1);
  assert.deepEqual([text, meta.room], ['psst', dm.room]);

  for (const [event, payload] of [
    ['history', { room: dm.room }],
    ['sync', { since: { [dm.room]: 0 } }],
  ]) {
    const answer = await ask(cy.socket, event, payload);
    assert.equal(answer.error.code, 'unknown_room', `${event}: ${JSON.stringify(answer)}`);
  }
  await send(ann.socket, 'barrier');
  const [[first]] = await cy.received.next(1);
  assert.equal(first, 'barrier', 'cy never received the direct message');
  for (const c of [ann, bob, cy]) c.socket.close();
});

test('a moderator deletes a message; it is gone live and from history', async () => {
  const token = readFileSync(path.join(path.dirname(server.database), 'admin-token'), 'utf8');
  const ann = await person('ann');
  // Sent the moment the client is connected, racing the server's connect handler: it must be
  // accepted all the same (the lobby is everyone's).
  const ack = await send(ann.socket, 'oops');
  assert.ok(Number.isInteger(ack.data?.id), JSON.stringify(ack));
  await ann.received.next(1);
  const admin = io(`${server.url}/admin`, { reconnection: false, forceNew: true, auth: { token } });
  await new Promise((resolve, reject) => {
    admin.once('connect', resolve);
    admin.once('connect_error', reject);
  });
  const gone = new Promise((resolve) => ann.socket.once('message deleted', resolve));
  const deleted = await ask(admin, 'delete message', { id: ack.data.id });
  assert.deepEqual(deleted, { data: { room: 'lobby', id: ack.data.id } });
  assert.deepEqual(await gone, { room: 'lobby', id: ack.data.id });
  const page = await ask(ann.socket, 'history', { room: 'lobby' });
  assert.ok(!JSON.stringify(page).includes('oops'), JSON.stringify(page));
  // On the main namespace the same request is refused: it is for moderators.
  assert.equal((await ask(ann.socket, 'delete message', { id: ack.data.id })).error.code, 'admin_only');
  admin.close();
  ann.socket.close();
});
