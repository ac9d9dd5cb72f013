// Incoming webhooks as their users call them: `curl` posts, and the official socket.io-client
// in the room receives the message, marked as a program's.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, test } from 'node:test';
import { io } from 'socket.io-client';
import { PalaverServer } from '../support/server.mjs';
import { connect } from '../support/sio.mjs';

const run = promisify(execFile);

let server;
beforeEach(async () => {
  server = await PalaverServer.start();
});
afterEach(async () => {
  await server?.dispose();
});

function connectAdmin() {
  const token = readFileSync(path.join(path.dirname(server.database), 'admin-token'), 'utf8');
  const socket = io(`${server.url}/admin`, { reconnection: false, forceNew: true, auth: { token } });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', reject);
  });
}

/** `curl` with `args`: the status and the body it printed. */
async function curl(...args) {
  const { stdout } = await run('curl', ['--silent', '--show-error', '--max-time', '10', '--write-out', '\n%{http_code}', ...args]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

test('curl posts through an incoming webhook and a socket.io-client in the room receives it', async () => {
  const admin = await connectAdmin();
  const made = await admin.timeout(10_000).emitWithAck('create webhook', { room: 'lobby', name: 'ci' });
  assert.ok(made.data, JSON.stringify(made));
  const { url, path: hookPath } = made.data;
  assert.equal(url, `${server.url}${hookPath}`);
  const ann = await connect(server.url, { auth: { name: 'ann' } });

  // As Slack's users post: JSON, then a form's `payload`.
  const json = await curl('-H', 'Content-Type: application/json', '-d', '{"text": "build 42 passed", "username": "deploy"}', url);
  assert.deepEqual(json, { status: 200, body: 'ok' });
  const form = await curl('--data-urlencode', 'payload={"text": "deployed to staging"}', url);
  assert.deepEqual(form, { status: 200, body: 'ok' });

  const [[first, firstId, firstMeta], [second, , secondMeta]] = await ann.received.next(2);
  assert.deepEqual([first, firstMeta.author, firstMeta.kind, firstMeta.room], ['build 42 passed', 'deploy', 'bot', 'lobby']);
  assert.ok(Number.isInteger(firstId));
  assert.deepEqual([second, secondMeta.author, secondMeta.kind], ['deployed to staging', 'ci', 'bot']);

  // A wrong token: a JSON error, and nothing posted.
  const wrong = await curl('-d', '{"text": "x"}', url.replace(/[0-9a-f]{64}$/, '0'.repeat(64)));
  assert.equal(wrong.status, 404);
  assert.equal(JSON.parse(wrong.body).error.code, 'unknown_webhook');

  // Revoked: 410.
  await admin.timeout(10_000).emitWithAck('revoke webhook', { id: made.data.webhook.id });
  const gone = await curl('-d', '{"text": "x"}', url);
  assert.equal(gone.status, 410);
  assert.equal(JSON.parse(gone.body).error.code, 'webhook_revoked');
  assert.equal(ann.received.items.length, 2, JSON.stringify(ann.received.items));

  ann.socket.close();
  admin.close();
});
