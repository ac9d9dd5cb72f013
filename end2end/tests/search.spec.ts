import { test, expect, openChat, send, messageWithText, convo, moreRooms } from './fixtures';
import { connect, send as post } from '../support/sio.mjs';
import type { Page } from '@playwright/test';

/** Searches from the header's box; the panel opens with the hits. */
async function search(page: Page, query: string) {
  const box = page.getByLabel('Search messages');
  await box.fill(query);
  await box.press('Enter');
  await expect(page.getByTestId('search-panel')).toBeVisible();
  await expect(page.locator('.search-loading')).toBeEmpty();
}

function hits(page: Page) {
  return page.getByTestId('search-hit');
}

test('a search finds only what its reader may read', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const cy = await openChat(browser, server, 'cy');

  await send(ann, 'kumquat for everyone');
  await expect(messageWithText(ann, 'kumquat for everyone')).toHaveAttribute('data-state', 'sent');
  // A direct conversation of ann and bob.
  await ann.getByRole('button', { name: 'Message bob', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveAttribute('data-kind', 'dm');
  await send(ann, 'kumquat between us');
  await expect(messageWithText(ann, 'kumquat between us')).toHaveAttribute('data-state', 'sent');
  // Ann's private room.
  await moreRooms(ann);
  await ann.getByLabel('New room name').fill('vault');
  await ann.getByLabel('Private', { exact: true }).check();
  await ann.getByRole('button', { name: 'Create', exact: true }).click();
  await expect(ann.getByTestId('convo-title')).toHaveText('vault');
  await send(ann, 'kumquat in the vault');
  await expect(messageWithText(ann, 'kumquat in the vault')).toHaveAttribute('data-state', 'sent');

  // Ann finds all three, the word marked; the prefix "kumq" is enough.
  await search(ann, 'kumq');
  await expect(hits(ann)).toHaveCount(3);
  await expect(hits(ann).locator('mark').first()).toHaveText(/kumquat/i);
  // Bob, the lobby's and his conversation with ann; Cy the lobby's alone.
  await expect(convo(bob, 'ann')).toBeVisible();
  await search(bob, 'kumquat');
  await expect(hits(bob)).toHaveCount(2);
  await expect(hits(bob).filter({ hasText: 'between us' })).toHaveCount(1);
  await expect(hits(bob).filter({ hasText: 'vault' })).toHaveCount(0);
  await search(cy, 'kumquat');
  await expect(hits(cy)).toHaveCount(1);
  await expect(hits(cy)).toContainText('kumquat for everyone');
  await expect(hits(cy).filter({ hasText: 'between us' })).toHaveCount(0);
  await expect(hits(cy).filter({ hasText: 'vault' })).toHaveCount(0);

  // Filters: by author, nothing of bob's; the empty state says so.
  await cy.getByLabel('Author').fill('bob');
  await cy.getByRole('button', { name: 'Apply' }).click();
  await expect(cy.getByTestId('search-empty')).toBeVisible();
  // What looks like query syntax is words.
  await search(cy, '"kumquat* NEAR(');
  await expect(cy.locator('.search-error')).toBeEmpty();
  // Escape closes the panel, back in the search box.
  await cy.keyboard.press('Escape');
  await expect(cy.getByTestId('search-panel')).toHaveCount(0);
});

test('a hit far back in history opens its conversation around it, marked', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const token = await ann.evaluate(() => localStorage.getItem('palaver.session'));
  const { socket } = await connect(server.url, { auth: { token } });
  // The hit, then more messages than the page and its window hold.
  const hit = await post(socket, 'the lost dragonfruit recipe', 'k-hit');
  expect(hit.data).toBeDefined();
  for (let i = 0; i < 120; i++) {
    const ack = await post(socket, `filler ${i}`, `k-${i}`);
    expect(ack.data).toBeDefined();
  }
  socket.close();
  await ann.reload();
  await expect(ann.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  await expect(messageWithText(ann, 'filler 119')).toHaveCount(1);
  await expect(messageWithText(ann, 'dragonfruit')).toHaveCount(0);

  await search(ann, 'dragonfruit');
  await expect(hits(ann)).toHaveCount(1);
  await expect(hits(ann).locator('.hit-room')).toHaveText('lobby');
  await expect(hits(ann).locator('.hit-author')).toHaveText('ann');
  await hits(ann).getByRole('button').click();
  await expect(ann.getByTestId('search-panel')).toHaveCount(0);

  const found = messageWithText(ann, 'the lost dragonfruit recipe');
  await expect(found).toHaveClass(/found/);
  await expect(found).toHaveAttribute('aria-current', 'true');
  await expect(found).toBeInViewport();
  // Its neighbours are there, and the gap to the newest messages is shown, then filled.
  await expect(messageWithText(ann, 'filler 0')).toHaveCount(1);
  const gap = ann.getByTestId('gap');
  await expect(gap).toHaveCount(1);
  await expect(messageWithText(ann, 'filler 50')).toHaveCount(0);
  await gap.getByRole('button').click();
  await expect(messageWithText(ann, 'filler 50')).toHaveCount(1);
  await expect(gap).toHaveCount(0);
  // The conversation still goes on live.
  await send(ann, 'after the jump');
  await expect(messageWithText(ann, 'after the jump')).toHaveAttribute('data-state', 'sent');
});
