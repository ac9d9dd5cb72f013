// The official socket.io-client against the `/admin` namespace: refused without the admin
// token, live statistics and moderation with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { io } from 'socket.io-client';
import { PalaverServer } from '../support/server.mjs';
import { connect } from '../support/sio.mjs';

let server;
beforeEach(async () => {
  server = await PalaverServer.start();
});
afterEach(async () => {
  await server?.dispose();
});

/** The token the server generated on first start, beside its database. */
const adminToken = () => readFileSync(path.join(path.dirname(server.database), 'admin-token'), 'utf8');

function connectAdmin(auth) {
  const socket = io(`${server.url}/admin`, { reconnection: false, forceNew: true, auth });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** Resolves with the first `stats` that `accept` takes. */
function statsWhere(socket, accept) {
  return new Promise((resolve) => {
    const onStats = (stats) => {
      if (!accept(stats)) return;
      socket.off('stats', onStats);
      resolve(stats);
    };
    socket.on('stats', onStats);
  });
}

test('without the admin token /admin answers connect_error "unauthorized"', async () => {
  for (const auth of [undefined, {}, { token: 'guess' }]) {
    await assert.rejects(connectAdmin(auth), (err) => {
      assert.equal(err.message, 'unauthorized');
      return true;
    });
  }
});

test('with the admin token /admin receives live stats and can announce and kick', async () => {
  const admin = await connectAdmin({ token: adminToken() });
  const ann = await connect(server.url, { auth: { name: 'ann' } });
  const stats = await statsWhere(admin, (s) => s.rooms.some((r) => r.room === 'lobby' && r.members.includes('ann')));
  assert.deepEqual(stats.namespaces, [
    { path: '/', sockets: 1 },
    { path: '/admin', sockets: 1 },
  ]);
  assert.equal(typeof stats.messagesPerMinute, 'number');

  const announced = await admin.timeout(10_000).emitWithAck('announce', { text: 'hello from the admins' });
  assert.ok(Number.isInteger(announced.data[0].id), JSON.stringify(announced));
  const [[text, , meta]] = await ann.received.next(1);
  assert.deepEqual([text, meta.author, meta.kind], ['hello from the admins', 'admin', 'announcement']);

  const kickedNotice = new Promise((resolve) => ann.socket.once('kicked', resolve));
  const gone = new Promise((resolve) => ann.socket.once('disconnect', resolve));
  const kicked = await admin.timeout(10_000).emitWithAck('kick', { name: 'ann', reason: 'testing' });
  assert.deepEqual(kicked, { data: { sockets: 1 } });
  assert.deepEqual(await kickedNotice, { reason: 'testing' });
  assert.equal(await gone, 'io server disconnect');
  admin.close();
});
