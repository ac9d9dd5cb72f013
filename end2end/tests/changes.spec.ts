// Edits, deletions, reactions and replies: live for everyone holding the message, and for a
// reader who was offline during the changes, after the reconnect and without a reload.
import type { Page } from '@playwright/test';
import { test, expect, openChat, send, messageWithText } from './fixtures';
import { openGuest, signUp } from './accounts.helpers';

// The reply test posts a page's worth of messages at once.
test.use({ serverEnv: { PALAVER_RATE_LIMIT: '0' } });

function row(page: Page, text: string) {
  return messageWithText(page, text);
}

async function edit(page: Page, from: string, to: string) {
  const message = row(page, from);
  await message.getByTestId('edit').click();
  const input = message.getByLabel('Edit message');
  await input.fill(to);
  await input.press('Enter');
}

async function react(page: Page, text: string, emoji: string) {
  const message = row(page, text);
  await message.getByTestId('add-reaction').click();
  await message.getByTestId('picker').locator(`[data-emoji="${emoji}"]`).click();
}

function chip(page: Page, text: string, emoji: string) {
  return row(page, text).locator(`[data-testid="reaction"][data-emoji="${emoji}"]`);
}

test('edits, deletions and reactions show live, and to a reader who was offline', async ({ browser, server }) => {
  // The first account is the server's administrator: a moderator on the chat page.
  const mo = await openGuest(browser, server);
  await signUp(mo, 'mo');
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');
  for (const text of ['helo', 'keep me', 'oops', 'react to me', 'a moderator removes this']) {
    await send(ann, text);
  }
  for (const page of [bob, cy, mo]) {
    await expect(row(page, 'a moderator removes this')).toHaveCount(1);
  }

  // Only the author edits; anyone sees it live, marked.
  await expect(row(bob, 'helo').getByTestId('edit')).toHaveCount(0);
  await expect(row(bob, 'helo').getByTestId('delete')).toHaveCount(0);
  await edit(ann, 'helo', 'hello');
  await expect(row(bob, 'hello')).toHaveCount(1);
  await expect(row(bob, 'hello').getByTestId('edited')).toHaveAttribute('title', /^edited \d{4}-/);
  await expect(bob.getByTestId('messages').locator('.text', { hasText: 'helo' })).toHaveCount(0);

  // The author deletes; so does a moderator, anyone's.
  await row(ann, 'oops').getByTestId('delete').click();
  await expect(row(bob, 'oops')).toHaveCount(0);
  await row(mo, 'a moderator removes this').getByTestId('delete').click();
  await expect(row(bob, 'a moderator removes this')).toHaveCount(0);
  await expect(row(ann, 'a moderator removes this')).toHaveCount(0);

  // Reactions: a picker, chips with counts and names, a click toggles one's own.
  await react(bob, 'react to me', '👍');
  await expect(chip(ann, 'react to me', '👍')).toHaveText('👍 1');
  await expect(chip(ann, 'react to me', '👍')).toHaveAttribute('title', 'bob');
  await chip(ann, 'react to me', '👍').click();
  await expect(chip(bob, 'react to me', '👍')).toHaveText('👍 2');
  await expect(chip(bob, 'react to me', '👍')).toHaveAttribute('title', 'bob, ann');
  await expect(chip(ann, 'react to me', '👍')).toHaveAttribute('aria-pressed', 'true');
  await chip(ann, 'react to me', '👍').click();
  await expect(chip(bob, 'react to me', '👍')).toHaveText('👍 1');

  // Cy is offline while ann edits and deletes and bob reacts; back online, without a reload,
  // cy's screen matches everyone's.
  await cy.context().setOffline(true);
  await expect(cy.getByTestId('status')).toHaveAttribute('data-state', 'reconnecting');
  await edit(ann, 'keep me', 'kept, and edited');
  await row(ann, 'hello').getByTestId('delete').click();
  await react(bob, 'react to me', '🎉');
  await chip(bob, 'react to me', '👍').click();
  await expect(row(ann, 'kept, and edited')).toHaveCount(1);
  await expect(row(ann, 'hello')).toHaveCount(0);
  await expect(chip(ann, 'react to me', '🎉')).toHaveText('🎉 1');
  await expect(chip(ann, 'react to me', '👍')).toHaveCount(0);
  await expect(row(cy, 'hello')).toHaveCount(1);
  await cy.context().setOffline(false);
  await expect(cy.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(cy.getByTestId('messages').locator('.text')).toHaveText([
    'kept, and edited',
    'react to me',
  ]);
  await expect(row(cy, 'kept, and edited').getByTestId('edited')).toHaveCount(1);
  await expect(chip(cy, 'react to me', '🎉')).toHaveText('🎉 1');
  await expect(chip(cy, 'react to me', '👍')).toHaveCount(0);
  // Live again after the catch-up.
  await edit(ann, 'kept, and edited', 'kept, edited twice');
  await expect(row(cy, 'kept, edited twice')).toHaveCount(1);
});

test('a reply quotes its parent, and a click on the quote finds the parent', async ({ browser, server }) => {
  test.setTimeout(120_000);
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  await send(ann, 'who is up for lunch?');
  await expect(row(bob, 'who is up for lunch?')).toHaveCount(1);

  await row(bob, 'who is up for lunch?').getByTestId('reply').click();
  await expect(bob.getByTestId('reply-banner')).toContainText('Replying to ann');
  await send(bob, 'me!');
  await expect(bob.getByTestId('reply-banner')).toHaveCount(0);
  const quote = row(ann, 'me!').getByTestId('quoted');
  await expect(quote).toContainText('ann');
  await expect(quote).toContainText('who is up for lunch?');
  // The quote follows its parent's edits.
  await edit(ann, 'who is up for lunch?', 'who is up for an early lunch?');
  await bob.reload();
  await expect(bob.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(row(bob, 'me!').getByTestId('quoted')).toContainText('who is up for an early lunch?');

  // A reply whose parent is pages back: the page loads the history around it.
  for (let i = 0; i < 60; i++) await send(ann, `filler ${i}`);
  await row(ann, 'who is up for an early lunch?').getByTestId('reply').click();
  await send(ann, 'back to lunch');
  await expect(row(ann, 'back to lunch')).toHaveAttribute('data-state', 'sent');
  const cy = await openChat(browser, server, 'cy');
  await expect(row(cy, 'back to lunch')).toHaveCount(1);
  await expect(row(cy, 'who is up for an early lunch?')).toHaveCount(0);
  await row(cy, 'back to lunch').getByTestId('quoted').click();
  const parent = row(cy, 'who is up for an early lunch?');
  await expect(parent).toHaveClass(/highlighted/);
  await expect(parent).toBeInViewport();
});
