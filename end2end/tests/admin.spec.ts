import { readFileSync } from 'node:fs';
import path from 'node:path';
import { io } from 'socket.io-client';
import { test, expect, openChat, send, messageWithText } from './fixtures';

/** An official socket.io-client on `/admin`, with the token the server generated. */
async function connectAdmin(server) {
  const token = readFileSync(path.join(path.dirname(server.database), 'admin-token'), 'utf8');
  const admin = io(`${server.url}/admin`, { reconnection: false, forceNew: true, auth: { token } });
  await new Promise((resolve, reject) => {
    admin.once('connect', resolve);
    admin.once('connect_error', reject);
  });
  return admin;
}

test('an announcement and a kick from /admin are seen live', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const admin = await connectAdmin(server);

  const ack = await admin.timeout(10_000).emitWithAck('announce', { text: 'maintenance at six' });
  expect(ack.data).toHaveLength(1);
  for (const page of [ann, bob]) {
    const row = messageWithText(page, 'maintenance at six');
    await expect(row).toHaveClass(/announcement/);
    await expect(row.locator('.author')).toHaveText('admin');
  }

  const kicked = await admin.timeout(10_000).emitWithAck('kick', { name: 'ann', reason: 'testing' });
  expect(kicked).toEqual({ data: { sockets: 1 } });
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'removed');
  await expect(ann.locator('#name-error')).toHaveText('Removed by a moderator: testing');
  // Everyone else carries on.
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await send(bob, 'still here');
  await expect(messageWithText(bob, 'still here')).toHaveAttribute('data-state', 'sent');
  admin.close();
});
