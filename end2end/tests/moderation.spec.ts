import type { Page } from '@playwright/test';
import {
  test,
  expect,
  openChat,
  send,
  messageWithText,
  openConvo,
  createRoom,
  joinRoom,
  openAdmin,
} from './fixtures';

/** Shows `room`'s recent messages on the admin page and deletes the one saying `text`. */
async function deleteMessage(admin: Page, room: string, text: string) {
  await admin.getByLabel('Room to moderate').selectOption(room);
  await admin.getByRole('button', { name: 'Show recent' }).click();
  const row = admin.getByTestId('recent-message').filter({ hasText: text });
  await expect(row).toHaveCount(1);
  await row.getByRole('button', { name: 'Delete' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText(new RegExp(`^Deleted message \\d+ in ${room}$`));
  // The list is shown again without it.
  await expect(admin.getByTestId('recent-message').filter({ hasText: text })).toHaveCount(0);
}

test('a message deleted from /admin disappears live, and stays gone after a reload', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'keep this');
  await send(ann, 'oops, wrong window');
  for (const page of [ann, bob]) await expect(messageWithText(page, 'oops, wrong window')).toHaveCount(1);

  const admin = await openAdmin(browser, server);
  await deleteMessage(admin, 'lobby', 'oops, wrong window');
  for (const page of [ann, bob]) {
    await expect(messageWithText(page, 'oops, wrong window')).toHaveCount(0);
    await expect(messageWithText(page, 'keep this')).toHaveCount(1);
  }
  // The conversation carries on normally after the hole in what is shown.
  await send(bob, 'next');
  await expect(ann.getByTestId('messages').locator('.text')).toHaveText(['keep this', 'next']);

  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['keep this', 'next']);

  // In a room too, and for a reader who was offline when it happened.
  await createRoom(ann, 'rust');
  await joinRoom(bob, 'rust');
  await send(ann, 'rust one');
  await expect(messageWithText(bob, 'rust one')).toHaveCount(1);
  await bob.context().setOffline(true);
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
  await send(ann, 'rust mistake');
  await send(ann, 'rust two');
  await expect(messageWithText(ann, 'rust two')).toHaveAttribute('data-state', 'sent');
  await expect(admin.locator('[data-testid="room"][data-room="rust"]')).toHaveCount(1);
  await deleteMessage(admin, 'rust', 'rust mistake');
  await expect(messageWithText(ann, 'rust mistake')).toHaveCount(0);
  await bob.context().setOffline(false);
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['rust one', 'rust two']);
  await send(ann, 'rust three');
  await expect(bob.getByTestId('messages').locator('.text')).toHaveText(['rust one', 'rust two', 'rust three']);
});

test('announcements go to one room or to all, and a kick is seen live', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');
  await createRoom(ann, 'rust');
  await joinRoom(bob, 'rust');
  const admin = await openAdmin(browser, server);
  await expect(admin.locator('[data-testid="room"][data-room="rust"] .members')).toHaveText('ann, bob');

  // To rust only: its members see it, cy (lobby only) does not.
  await admin.getByLabel('Room', { exact: true }).selectOption('rust');
  await admin.getByLabel('Announcement').fill('rust is read-only tonight');
  await admin.getByRole('button', { name: 'Announce' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText('Announced in 1 room(s)');
  await expect(messageWithText(bob, 'rust is read-only tonight')).toHaveClass(/announcement/);
  await expect(messageWithText(ann, 'rust is read-only tonight')).toHaveClass(/announcement/);

  // To every room: cy sees this one in the lobby, and only this one.
  await admin.getByLabel('Room', { exact: true }).selectOption('');
  await admin.getByLabel('Announcement').fill('restart at six');
  await admin.getByRole('button', { name: 'Announce' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText('Announced in 2 room(s)');
  await expect(messageWithText(cy, 'restart at six')).toHaveClass(/announcement/);
  await expect(messageWithText(cy, 'rust is read-only tonight')).toHaveCount(0);
  await expect(messageWithText(bob, 'restart at six')).toHaveCount(1);
  await openConvo(bob, 'lobby');
  await expect(messageWithText(bob, 'restart at six')).toHaveCount(1);

  await admin.getByLabel('Name to kick').fill('cy');
  await admin.getByLabel('Reason').fill('spam');
  await admin.getByRole('button', { name: 'Kick' }).click();
  await expect(admin.getByTestId('admin-feedback')).toHaveText('Kicked cy (1 connection(s))');
  await expect(cy.getByTestId('status')).toHaveAttribute('data-state', 'removed');
  await expect(cy.locator('#name-error')).toHaveText('Removed by a moderator: spam');
  await expect(bob.getByTestId('presence')).toHaveText('Online: ann, bob');
  await expect(admin.locator('[data-testid="room"][data-room="lobby"] .members')).toHaveText('ann, bob');
});
