import { execFileSync } from 'node:child_process';
import type { Browser, Page } from '@playwright/test';
import {
  test as base,
  expect,
  openChat,
  send,
  messageWithText,
  convo,
  unread,
  openConvo,
  createRoom,
  joinRoom,
  notices,
} from './fixtures';
import { PalaverServer } from '../support/server.mjs';
import { Postgres, Redis } from '../support/services.mjs';

/**
 * Two nodes on one Postgres database, linked through Redis, each reached directly on its own
 * port: ann always on node 1, bob always on node 2, so everything one sees of the other has
 * crossed from one node to the other.
 */
type Cluster = { one: PalaverServer; two: PalaverServer; database: string };

const test = base.extend<{ cluster: Cluster }, { postgres: Postgres }>({
  // One Postgres per worker (initdb is the slow part); every test gets a new database in it.
  postgres: [
    async ({}, use) => {
      const pg = await Postgres.start();
      await use(pg);
      await pg.remove();
    },
    { scope: 'worker', timeout: 90_000 },
  ],
  cluster: async ({ postgres, browser }, use, testInfo) => {
    // A Redis of the test's own, so that no node of an earlier test can reach these.
    const redis = await Redis.start();
    const database = postgres.database();
    const env = { DATABASE_URL: database, PALAVER_REDIS_URL: redis.url };
    // Started together: both migrate the new database and make its secrets at once, and must
    // end up sharing one session key and one admin token.
    const nodes = await Promise.allSettled([PalaverServer.start(env), PalaverServer.start(env)]);
    const started = nodes.flatMap((n) => (n.status === 'fulfilled' ? [n.value] : []));
    try {
      if (started.length < 2) {
        throw nodes.flatMap((n) => (n.status === 'rejected' ? [n.reason] : []))[0];
      }
      const [one, two] = started;
      await use({ one, two, database });
    } finally {
      // Pages first: a kicked page keeps its transport open (it has no namespace left, so a
      // node's shutdown does not close it), which would hold that node's stop for its grace.
      await Promise.all(browser.contexts().map((c) => c.close()));
      const stopped = await Promise.allSettled(started.map((node) => node.dispose()));
      await redis.remove();
      // A node that did not stop cleanly says why (its exit code and log).
      for (const s of stopped) if (s.status === 'rejected') throw s.reason;
    }
    for (const [i, node] of started.entries()) {
      const log = node.logs.join('');
      if (testInfo.status !== testInfo.expectedStatus || log.includes('panicked')) {
        await testInfo.attach(`palaver-node-${i + 1}.log`, { body: log, contentType: 'text/plain' });
        console.log(`node ${i + 1}:\n${log}`);
      }
      // Whatever a test does, no node may panic.
      expect(log, `node ${i + 1}`).not.toContain('panicked');
    }
  },
});

/** Ann on node 1 and bob on node 2, each seeing the other online in the lobby. */
async function annAndBob(browser: Browser, { one, two }: Cluster): Promise<[Page, Page]> {
  const ann = await openChat(browser, one, 'ann');
  const bob = await openChat(browser, two, 'bob');
  for (const page of [ann, bob]) await expect(page.getByTestId('presence')).toHaveText('Online: ann, bob');
  return [ann, bob];
}

/** The admin token the nodes share, as the first of them kept it in the database. */
function adminToken(database: string): string {
  const sql = "SELECT value FROM settings WHERE key = 'admin-token'";
  const token = execFileSync('psql', [database, '-v', 'ON_ERROR_STOP=1', '-tAc', sql], { encoding: 'utf8' }).trim();
  expect(token).toMatch(/^[0-9a-f]{64}$/);
  return token;
}

/** The /admin page of `node`, signed in with `token`. */
async function openAdmin(browser: Browser, node: PalaverServer, token: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${node.url}/admin`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await page.locator('#admin-token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('admin-access')).toHaveText('Connected');
  return page;
}

test('ann on node 1 and bob on node 2 chat in the lobby and see each other online and typing', async ({ browser, cluster }) => {
  const [ann, bob] = await annAndBob(browser, cluster);

  // Typing crosses both ways; nobody sees their own. (Typed before anything else is sent: a
  // page announces typing at most every 2 s, and sending counts as typing.)
  await ann.getByLabel('Message', { exact: true }).pressSequentially('hello from node 1');
  await expect(bob.getByTestId('typing')).toHaveText('ann is typing…');
  await expect(ann.getByTestId('typing')).toHaveText('');
  await ann.getByLabel('Message', { exact: true }).press('Enter');
  const seenByBob = messageWithText(bob, 'hello from node 1');
  await expect(seenByBob).toHaveCount(1);
  await expect(seenByBob.locator('.author')).toHaveText('ann');
  await expect(messageWithText(ann, 'hello from node 1')).toHaveAttribute('data-state', 'sent');
  // Her message, arriving on the other node, takes it off.
  await expect(bob.getByTestId('typing')).toHaveText('');

  await bob.getByLabel('Message', { exact: true }).pressSequentially('hello from node 2');
  await expect(ann.getByTestId('typing')).toHaveText('bob is typing…');
  await expect(bob.getByTestId('typing')).toHaveText('');
  await bob.getByLabel('Message', { exact: true }).press('Enter');
  await expect(messageWithText(ann, 'hello from node 2').locator('.author')).toHaveText('bob');
  await expect(ann.getByTestId('typing')).toHaveText('');
  // One room, one numbering: both pages hold the two in the same order.
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('messages').locator('.text')).toHaveText(['hello from node 1', 'hello from node 2']);
  }

  // A third person on node 2 counts on node 1 too; closing her page takes her off both.
  const cy = await openChat(browser, cluster.two, 'cy');
  for (const page of [ann, bob, cy]) await expect(page.getByTestId('presence')).toHaveText('Online: ann, bob, cy');
  await cy.context().close();
  for (const page of [ann, bob]) await expect(page.getByTestId('presence')).toHaveText('Online: ann, bob');
});

test('ann creates a room on node 1, bob joins it on node 2, and they talk there', async ({ browser, cluster }) => {
  const [ann, bob] = await annAndBob(browser, cluster);

  await createRoom(ann, 'rust');
  await joinRoom(bob, 'rust');
  await expect(notices(ann).filter({ hasText: 'bob joined' })).toHaveCount(1);
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('presence')).toHaveText('Online: ann, bob');
    await expect(page.getByTestId('convo-counts')).toHaveText('2 members, 2 online');
  }

  await ann.getByLabel('Message', { exact: true }).pressSequentially('rust from 1');
  await expect(bob.getByTestId('typing')).toHaveText('ann is typing…');
  await ann.getByLabel('Message', { exact: true }).press('Enter');
  await expect(messageWithText(bob, 'rust from 1')).toHaveCount(1);
  await send(bob, 'rust from 2');
  await expect(messageWithText(ann, 'rust from 2')).toHaveCount(1);
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('messages').locator('.text')).toHaveText(['rust from 1', 'rust from 2']);
  }

  // The room's messages stay in the room: the lobby has none, and bob, reading the lobby,
  // is told of ann's next one by its unread count.
  await openConvo(bob, 'lobby');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveCount(0);
  await send(ann, 'rust again');
  await expect(unread(bob, 'rust')).toHaveText('1');
  await openConvo(bob, 'rust');
  await expect(messageWithText(bob, 'rust again')).toHaveCount(1);
});

test('ann on node 1 opens a direct conversation with bob on node 2, who answers', async ({ browser, cluster }) => {
  const [ann, bob] = await annAndBob(browser, cluster);

  await ann.getByRole('button', { name: 'Message bob', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveText('bob');
  await expect(ann.getByTestId('convo-title')).toHaveAttribute('data-kind', 'dm');
  await send(ann, 'psst, bob');
  await expect(messageWithText(ann, 'psst, bob')).toHaveAttribute('data-state', 'sent');

  await expect(unread(bob, 'ann')).toHaveText('1');
  await openConvo(bob, 'ann');
  await expect(messageWithText(bob, 'psst, bob')).toHaveCount(1);
  await expect(convo(bob, 'ann')).toHaveAttribute('data-room', /^dm:/);
  await send(bob, 'hi ann, from node 2');
  await expect(messageWithText(ann, 'hi ann, from node 2')).toHaveCount(1);
  for (const page of [ann, bob]) {
    await expect(page.getByTestId('messages').locator('.text')).toHaveText(['psst, bob', 'hi ann, from node 2']);
  }
  // Nothing of it in the lobby.
  await openConvo(bob, 'lobby');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveCount(0);
});

test("the admin on node 1 deletes bob's message and kicks bob off node 2", async ({ browser, cluster }) => {
  const [ann, bob] = await annAndBob(browser, cluster);
  await send(ann, 'keep this');
  await send(bob, 'oops, wrong window');
  for (const page of [ann, bob]) await expect(messageWithText(page, 'oops, wrong window')).toHaveCount(1);

  // Node 1's admin page, with the token node 2 uses as well (one of them made it, in the
  // database), counts the sockets of both nodes.
  const admin = await openAdmin(browser, cluster.one, adminToken(cluster.database));
  const lobby = admin.locator('[data-testid="room"][data-room="lobby"]');
  await expect(lobby.locator('.members')).toHaveText('ann, bob');
  await expect(admin.getByTestId('namespace').first()).toHaveText('/: 2 sockets');

  await admin.getByLabel('Room to moderate').selectOption('lobby');
  await admin.getByRole('button', { name: 'Show recent' }).click();
  const row = admin.getByTestId('recent-message').filter({ hasText: 'oops, wrong window' });
  await expect(row).toHaveCount(1);
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText(/^Deleted message \d+ in lobby$/);
  // Gone from bob's page on node 2 (and ann's on node 1), the rest kept.
  for (const page of [bob, ann]) {
    await expect(messageWithText(page, 'oops, wrong window')).toHaveCount(0);
    await expect(page.getByTestId('messages').locator('.text')).toHaveText(['keep this']);
  }
  // And the hole it leaves is no gap: the next message follows on both nodes.
  await send(bob, 'next');
  await expect(ann.getByTestId('messages').locator('.text')).toHaveText(['keep this', 'next']);

  await admin.getByLabel('Name to kick').fill('bob');
  await admin.getByLabel('Reason').fill('cool off');
  await admin.getByRole('button', { name: 'Kick' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText('Kicked bob (1 connection(s))');
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'removed');
  await expect(bob.locator('#name-error')).toHaveText('Removed by a moderator: cool off');
  await expect(ann.getByTestId('presence')).toHaveText('Online: ann');
  await expect(lobby.locator('.members')).toHaveText('ann');
  await expect(admin.getByTestId('namespace').first()).toHaveText('/: 1 sockets');
});
