// The official socket.io-client against Palaver, over WebSocket only and over the default
// polling-then-upgrade transport.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { PalaverServer } from '../support/server.mjs';
import { CHAT, connect, send } from '../support/sio.mjs';

// A fresh server and database per test: a client connecting with serverOffset 0 is
// replayed everything, so earlier tests' messages would otherwise arrive first.
let server;
beforeEach(async () => {
  server = await PalaverServer.start();
});
afterEach(async () => {
  await server?.dispose();
});

const transports = {
  'websocket only': { transports: ['websocket'] },
  'polling then upgrade': {},
};

for (const [label, transport] of Object.entries(transports)) {
  describe(`socket.io-client, ${label}`, () => {
    const tag = label.replace(/\W+/g, '-');

    test('a message is acked with its id and broadcast to everyone', async () => {
      const a = await connect(server.url, { ...transport, auth: { name: `ann-${tag}` } });
      const b = await connect(server.url, { ...transport });
      if (!transport.transports) {
        // Prove the upgrade really happened on the default transport.
        await new Promise((resolve) => {
          if (a.socket.io.engine.transport.name === 'websocket') resolve();
          else a.socket.io.engine.once('upgrade', resolve);
        });
        assert.equal(a.socket.io.engine.transport.name, 'websocket');
      }
      const ack = await send(a.socket, `hello ${tag}`, `${tag}-1`);
      assert.ok(Number.isInteger(ack.data.id), JSON.stringify(ack));
      assert.ok(ack.data.ts > 1_600_000_000_000);
      const [[text, id, meta]] = await b.received.next(1);
      assert.deepEqual([text, id, meta.author, meta.clientOffset], [`hello ${tag}`, ack.data.id, `ann-${tag}`, `${tag}-1`]);
      a.socket.close();
      b.socket.close();
    });

    test('a repeated client offset is stored once and acked every time', async () => {
      const a = await connect(server.url, { ...transport });
      const b = await connect(server.url, { ...transport });
      const first = await send(a.socket, 'once', `${tag}-dup`);
      const again = await send(a.socket, 'once', `${tag}-dup`);
      assert.deepEqual(again, first);
      await send(a.socket, 'after', `${tag}-after`);
      const got = await b.received.next(2);
      assert.deepEqual(got.map((args) => args[0]), ['once', 'after'], 'the repeat was not broadcast');
      a.socket.close();
      b.socket.close();
    });

    test('connecting with serverOffset replays later messages in order', async () => {
      const a = await connect(server.url, { ...transport });
      const ids = [];
      for (const text of ['r1', 'r2', 'r3']) ids.push((await send(a.socket, `${tag}-${text}`)).data.id);
      const late = await connect(server.url, { ...transport, auth: { serverOffset: ids[0] } });
      // Everything after ids[0], which ends with r2 and r3, oldest first.
      const replayed = [];
      while (replayed.at(-1)?.[1] !== ids[2]) replayed.push(...(await late.received.next(1)));
      assert.deepEqual(replayed.map((args) => args[0]), [`${tag}-r2`, `${tag}-r3`]);
      const sorted = [...replayed].sort((x, y) => x[1] - y[1]);
      assert.deepEqual(replayed, sorted);
      a.socket.close();
      late.socket.close();
    });

    test('bad input gets a typed error and the connection keeps working', async () => {
      const a = await connect(server.url, { ...transport });
      assert.equal((await send(a.socket, 'x'.repeat(4001))).error.code, 'too_long');
      assert.equal((await send(a.socket, '   ')).error.code, 'empty');
      assert.equal((await send(a.socket, 42)).error.code, 'invalid_payload');
      assert.equal((await send(a.socket, 'hi', 'o'.repeat(129))).error.code, 'offset_too_long');
      const unknown = await a.socket.timeout(10_000).emitWithAck('no such event', 1);
      assert.deepEqual([unknown.error.code, unknown.error.event], ['unknown_event', 'no such event']);
      // Without an ack: logged by the server, nothing breaks.
      a.socket.emit(CHAT, { not: 'a string' });
      const ok = await send(a.socket, 'still works');
      assert.ok(Number.isInteger(ok.data.id));
      assert.ok(a.socket.connected);
      a.socket.close();
    });

    test('the tutorial client, unchanged', async () => {
      const tutorial = await connect(server.url, { ...transport, auth: { serverOffset: 0 }, ackTimeout: 10_000, retries: 3 });
      const listener = await connect(server.url, { ...transport });
      tutorial.socket.emit(CHAT, `tutorial ${tag}`, `${tutorial.socket.id}-0`);
      // Its own message comes back to it with the server offset, as in the tutorial.
      let mine;
      while (!mine) {
        const [[msg, serverOffset]] = await tutorial.received.next(1);
        if (msg === `tutorial ${tag}`) mine = serverOffset;
      }
      assert.ok(Number.isInteger(mine));
      const [[msg, serverOffset]] = await listener.received.next(1);
      assert.deepEqual([msg, serverOffset], [`tutorial ${tag}`, mine]);
      tutorial.socket.close();
      listener.socket.close();
    });
  });
}

test('a malformed auth payload is refused with connect_error', async () => {
  await assert.rejects(connect(server.url, { auth: { serverOffset: 'abc' } }), /invalid_auth/);
});

describe('socket.io-client, handshake origin', () => {
  test('a foreign Origin is refused and the site’s own is accepted', async () => {
    // Node's client can set the header a browser would send for a page on another site.
    const foreign = { transports: ['websocket'], extraHeaders: { Origin: 'http://evil.example' } };
    await assert.rejects(connect(server.url, foreign), (err) => {
      assert.match(err.message, /websocket error/);
      return true;
    });
    const own = { transports: ['websocket'], extraHeaders: { Origin: server.url } };
    const { socket } = await connect(server.url, own);
    assert.ok(socket.connected);
    socket.close();
  });
});
