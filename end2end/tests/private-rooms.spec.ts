import { test, expect, openChat, send, messageWithText, convo, createRoom, moreRooms, openConvo } from './fixtures';

test('a private room is seen by its members alone, who add people; its owner removes them', async ({
  browser,
  server,
}) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');

  // A public room, so that bob's list of rooms to join is not empty for want of any.
  await createRoom(ann, 'open');
  await ann.getByLabel('New room name').fill('secret');
  await ann.getByLabel('Private', { exact: true }).check();
  await ann.getByRole('button', { name: 'Create', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveText('secret');
  await expect(ann.getByLabel('Private', { exact: true })).not.toBeChecked();
  await expect(convo(ann, 'secret').getByTestId('room-private')).toBeVisible();
  await expect(convo(ann, 'open').getByTestId('room-private')).toHaveCount(0);
  await expect(ann.locator('.convo-head').getByTestId('room-private')).toHaveAttribute('title', 'private');
  await send(ann, 'the hidden plan');
  await expect(messageWithText(ann, 'the hidden plan')).toHaveAttribute('data-state', 'sent');

  // Bob is offered the public room, never the private one, by browsing or searching.
  await moreRooms(bob);
  await expect(bob.locator('[data-testid="other-room"][data-room="open"]')).toBeVisible();
  await expect(bob.locator('[data-testid="other-room"][data-room="secret"]')).toHaveCount(0);
  const find = bob.getByLabel('Find a room');
  await find.fill('secret');
  await expect(bob.getByTestId('no-other-rooms')).toHaveText('No room matches');
  // Joining it by its name is refused as for a room that does not exist.
  await bob.getByRole('button', { name: 'Join by name' }).click();
  await expect(bob.getByTestId('sidebar-alert')).toHaveText('No room named `secret`');
  await expect(convo(bob, 'secret')).toHaveCount(0);
  await expect(bob.getByTestId('convo-title')).toHaveText('lobby');

  // Ann adds him from the Members panel; a name nobody has is refused until it is edited.
  await ann.getByTestId('members-toggle').click();
  await expect(ann.getByTestId('members-toggle')).toHaveAttribute('aria-expanded', 'true');
  // Private: never browsed, so there is nothing to list; who posts can change.
  await expect(ann.getByTestId('room-listed')).toHaveCount(0);
  await expect(ann.getByTestId('room-managers-only')).not.toBeChecked();
  const name = ann.getByTestId('member-name');
  await name.fill('zed');
  await ann.getByTestId('member-add').click();
  const note = ann.getByTestId('member-note');
  await expect(note).toHaveText('Nobody is called `zed`');
  await expect(note).toHaveAttribute('data-outcome', 'refused');
  await expect(note).toHaveText('Nobody is called `zed`');
  await name.fill('bob');
  await expect(note).toHaveCount(0);
  await ann.getByTestId('member-add').click();
  await expect(note).toHaveText('Added bob');
  await expect(name).toHaveValue('');

  // Bob's sidebar has it now, locked, with its message.
  await expect(convo(bob, 'secret').getByTestId('room-private')).toBeVisible();
  await openConvo(bob, 'secret');
  await expect(messageWithText(bob, 'the hidden plan')).toHaveCount(1);
  await expect(bob.locator('.convo-head').getByTestId('room-private')).toBeVisible();
  // A member adds people, but only the owner (and moderators) remove them or change settings.
  await bob.getByTestId('members-toggle').click();
  await expect(bob.getByTestId('member-add')).toBeVisible();
  await expect(bob.getByTestId('member-remove')).toHaveCount(0);
  await expect(bob.getByTestId('room-managers-only')).toHaveCount(0);
  await send(bob, 'thanks');
  await expect(messageWithText(ann, 'thanks')).toHaveCount(1);

  // Ann removes him: his page drops the room as if he had left it.
  await name.fill('bob');
  await ann.getByTestId('member-remove').click();
  await expect(note).toHaveText('Removed bob');
  await expect(convo(bob, 'secret')).toHaveCount(0);
  await expect(bob.getByTestId('convo-title')).toHaveText('lobby');
  await expect(bob.locator('[data-testid="other-room"][data-room="secret"]')).toHaveCount(0);
  await send(ann, 'after bob');
  await expect(messageWithText(ann, 'after bob')).toHaveAttribute('data-state', 'sent');
  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(convo(bob, 'open')).toHaveCount(0);
  await expect(convo(bob, 'secret')).toHaveCount(0);
});

test('in an announcement room only its owner posts; the others read', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  await createRoom(ann, 'news');
  // The lobby has no members panel; a room does.
  await openConvo(ann, 'lobby');
  await expect(ann.getByTestId('members-toggle')).toHaveCount(0);
  await openConvo(ann, 'news');
  await ann.getByTestId('members-toggle').click();
  const managersOnly = ann.getByTestId('room-managers-only');
  const listed = ann.getByTestId('room-listed');
  await expect(listed).toBeChecked();
  await expect(managersOnly).not.toBeChecked();
  await listed.uncheck();
  await expect(listed).not.toBeChecked();
  await expect(ann.getByTestId('room-settings-note')).toHaveCount(0);

  // Unlisted: bob does not find it, but joins it by its name.
  const bob = await openChat(browser, server, 'bob');
  await moreRooms(bob);
  const find = bob.getByLabel('Find a room');
  await find.fill('news');
  await expect(bob.getByTestId('no-other-rooms')).toHaveText('No room matches');
  await find.press('Enter');
  await expect(bob.getByTestId('convo-title')).toHaveText('news');
  await expect(convo(bob, 'news')).toBeVisible();
  await expect(bob.getByTestId('composer')).toBeVisible();

  // Bob writes while away; meanwhile ann keeps posting to herself (and moderators).
  await bob.context().setOffline(true);
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
  await send(bob, 'me too');
  await managersOnly.check();
  await expect(managersOnly).toBeChecked();
  await expect(ann.getByTestId('composer')).toBeVisible();
  await expect(ann.getByTestId('read-only-notice')).toHaveCount(0);
  await bob.context().setOffline(false);
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  // His send is refused for good (not retried), and the notice replaces the composer.
  const refused = messageWithText(bob, 'me too');
  await expect(refused).toHaveAttribute('data-state', 'failed');
  await expect(refused.locator('.failure .error')).toHaveText('Only the owner and moderators post here');
  await expect(bob.getByTestId('read-only-notice')).toHaveText('Only the owner and moderators post here');
  await expect(bob.getByTestId('composer')).toHaveCount(0);
  await expect(bob.getByTestId('members-toggle')).toBeVisible();
  await expect(messageWithText(ann, 'me too')).toHaveCount(0);

  await send(ann, 'from the owner');
  await expect(messageWithText(bob, 'from the owner')).toHaveCount(1);
  await refused.getByRole('button', { name: 'Discard' }).click();
  await expect(refused).toHaveCount(0);

  // Posting opens again: bob hears of it live, and his composer comes back.
  await managersOnly.uncheck();
  await expect(managersOnly).not.toBeChecked();
  await expect(bob.getByTestId('read-only-notice')).toHaveCount(0);
  await send(bob, 'now me');
  await expect(messageWithText(ann, 'now me')).toHaveCount(1);
  await expect(messageWithText(bob, 'now me')).toHaveAttribute('data-state', 'sent');
});
