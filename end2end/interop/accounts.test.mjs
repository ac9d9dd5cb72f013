// The official socket.io-client and accounts: the tutorial's client chats in the lobby as a
// guest by default and is refused with `PALAVER_GUESTS=off`; a signed-in account's cookie,
// which a browser sends by itself, signs a client in over both transports.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { PalaverServer } from '../support/server.mjs';
import { io } from 'socket.io-client';
import { connect, send } from '../support/sio.mjs';

let server;
afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

async function signUp(name, password) {
  const res = await fetch(`${server.url}/auth/sign-up`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, password }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.headers.get('set-cookie').split(';')[0];
}

test('with the default guest setting the tutorial client chats in the lobby', async () => {
  server = await PalaverServer.start();
  const guest = await connect(server.url);
  const ack = await send(guest.socket, 'hello from the tutorial', 'tutorial-1');
  assert.ok(Number.isInteger(ack.data.id), JSON.stringify(ack));
  guest.socket.close();
});

test('with PALAVER_GUESTS=off the tutorial client is refused, an account is not', async () => {
  server = await PalaverServer.start({ PALAVER_GUESTS: 'off' });
  await assert.rejects(connect(server.url), (err) => {
    assert.equal(err.message, 'sign_in_required');
    return true;
  });
  const cookie = await signUp('ann', 'correct horse');
  for (const transports of [['websocket'], ['polling', 'websocket']]) {
    const socket = io(server.url, { transports, extraHeaders: { cookie }, reconnection: false, forceNew: true });
    // Listening before connecting: `account` is the first event after CONNECT.
    const account = await new Promise((resolve, reject) => {
      socket.once('account', resolve);
      socket.once('connect_error', reject);
    });
    assert.equal(account.name, 'ann');
    const ack = await send(socket, `signed in over ${transports[0]}`, `ann-${transports[0]}`);
    assert.ok(Number.isInteger(ack.data.id), JSON.stringify(ack));
    socket.close();
  }
});
