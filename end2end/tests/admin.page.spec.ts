import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test, expect, openChat, messageWithText } from './fixtures';

test('the /admin page refuses a wrong token, then shows live stats, announces and kicks', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/admin`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();

  await page.locator('#admin-token').fill('guess');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('admin-access')).toHaveText('Refused: unauthorized');
  await expect(page.getByTestId('admin-stats')).toHaveCount(0);

  const token = readFileSync(path.join(path.dirname(server.database), 'admin-token'), 'utf8');
  await page.locator('#admin-token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('admin-access')).toHaveText('Connected');
  const lobby = page.locator('[data-testid="room"][data-room="lobby"]');
  await expect(lobby.locator('.members')).toHaveText('ann, bob');
  await expect(page.getByTestId('namespace').first()).toHaveText('/: 2 sockets');

  await page.getByLabel('Announcement').fill('back in five');
  await page.getByRole('button', { name: 'Announce' }).click();
  await expect(page.getByTestId('admin-feedback')).toHaveText('Announced in 1 room(s)');
  await expect(messageWithText(ann, 'back in five')).toHaveClass(/announcement/);
  await expect(messageWithText(bob, 'back in five')).toHaveClass(/announcement/);
  await expect(page.getByTestId('messages-per-minute')).toHaveText('1');

  await page.getByLabel('Name to kick').fill('bob');
  await page.getByLabel('Reason').fill('cool off');
  await page.getByRole('button', { name: 'Kick' }).click();
  await expect(page.getByTestId('admin-feedback')).toHaveText('Kicked bob (1 connection(s))');
  await expect(bob.locator('#name-error')).toHaveText('Removed by a moderator: cool off');
  await expect(lobby.locator('.members')).toHaveText('ann');

  // The token is remembered: a reload signs in again.
  await page.reload();
  await expect(page.getByTestId('admin-access')).toHaveText('Connected');
});
