// Files in messages (issue 22): two people in separate contexts; one shares images by the
// attach button, by paste and by drag-and-drop, the other sees each as its thumbnail; a file
// that is no image downloads under its name; guests are told they cannot share files.
import { deflateSync } from 'node:zlib';
import type { Browser, Page } from '@playwright/test';
import type { PalaverServer } from '../support/server.mjs';
import { test, expect, messages } from './fixtures';
import { openGuest, signUp } from './accounts.helpers';

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return ~crc >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An RGB PNG of `width` × `height`, made here (nothing is downloaded). */
function png(width: number, height: number, tint: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per sample
  header[9] = 2; // RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const at = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) {
      rows[at + 1 + x * 3] = (x * 5) & 255;
      rows[at + 2 + x * 3] = (y * 3) & 255;
      rows[at + 3 + x * 3] = tint;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Signs up as `name` in a fresh context. */
async function person(browser: Browser, server: PalaverServer, name: string) {
  const page = await openGuest(browser, server);
  await signUp(page, name);
  return page;
}

/** The row of the message whose files include one called `name`. */
function withFile(page: Page, name: string) {
  return messages(page).filter({ has: page.locator(`.files [title^="${name} ("], .files .file-name:text-is("${name}")`) });
}

/** Waits until every upload chip is uploaded, then sends `text`. */
async function sendWithFiles(page: Page, text: string, count: number) {
  const chips = page.getByTestId('upload-chip');
  await expect(chips).toHaveCount(count);
  for (let i = 0; i < count; i++) await expect(chips.nth(i)).toHaveAttribute('data-state', 'done');
  const input = page.getByLabel('Message', { exact: true });
  await input.fill(text);
  await input.press('Enter');
  await expect(chips).toHaveCount(0);
}

/** Puts `file` on the page as a paste into the composer, or a drop onto the conversation. */
async function deliver(page: Page, how: 'paste' | 'drop', name: string, bytes: Buffer) {
  await page.evaluate(
    ({ how, name, data }) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], name, { type: 'image/png' }));
      if (how === 'paste') {
        const input = document.querySelector('[aria-label="Message"]')!;
        input.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
      } else {
        const target = document.querySelector('.messages')!;
        target.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }
    },
    { how, name, data: [...bytes] },
  );
}

/** Expects `page` to show the image file `name` as a loaded thumbnail of at most 320 px. */
async function expectThumbnail(page: Page, name: string) {
  const image = withFile(page, name).locator(`img[data-testid="thumbnail"][alt="${name}"]`);
  await expect(image).toBeVisible();
  await expect
    .poll(() => image.evaluate((img: HTMLImageElement) => (img.complete ? img.naturalWidth : 0)))
    .toBeGreaterThan(0);
  const width = await image.evaluate((img: HTMLImageElement) => img.naturalWidth);
  expect(width).toBeLessThanOrEqual(320);
  // It opens the whole image.
  const link = image.locator('xpath=..');
  await expect(link).toHaveAttribute('href', new RegExp(`/uploads/\\d+/${name.replace('.', '\\.')}$`));
}

test('an image shared by button, paste or drop is seen by another person as its thumbnail', async ({ browser, server }) => {
  const ann = await person(browser, server, 'ann');
  const bob = await person(browser, server, 'bob');

  // The attach button opens the file picker.
  const picked = ann.waitForEvent('filechooser');
  await ann.getByTestId('attach').click();
  await (await picked).setFiles({ name: 'sunset.png', mimeType: 'image/png', buffer: png(900, 600, 40) });
  await sendWithFiles(ann, 'the view tonight', 1);
  await expectThumbnail(bob, 'sunset.png');
  await expect(withFile(bob, 'sunset.png').locator('.text')).toHaveText('the view tonight');
  await expectThumbnail(ann, 'sunset.png');

  // A pasted image, and a dropped one, go with the next message, which needs no text.
  await deliver(ann, 'paste', 'pasted.png', png(64, 48, 120));
  await deliver(ann, 'drop', 'dropped.png', png(500, 700, 200));
  await sendWithFiles(ann, '', 2);
  await expectThumbnail(bob, 'pasted.png');
  await expectThumbnail(bob, 'dropped.png');
});

test('a file that is no image downloads under its name, and a refused one says why', async ({ browser, server }) => {
  const ann = await person(browser, server, 'ann');
  const bob = await person(browser, server, 'bob');

  const picked = ann.waitForEvent('filechooser');
  await ann.getByTestId('attach').click();
  await (await picked).setFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('the plan, in full\n') });
  await sendWithFiles(ann, 'the notes', 1);
  const chip = withFile(bob, 'notes.txt').getByTestId('file-chip');
  await expect(chip).toContainText('notes.txt');
  await expect(chip).toContainText('18 B');
  const download = bob.waitForEvent('download');
  await chip.click();
  expect((await download).suggestedFilename()).toBe('notes.txt');

  // Over the limit (10 MiB by default): the chip says so, and nothing goes with the message.
  const big = ann.waitForEvent('filechooser');
  await ann.getByTestId('attach').click();
  await (await big).setFiles({ name: 'huge.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
  const refused = ann.getByTestId('upload-chip');
  await expect(refused).toHaveAttribute('data-state', 'failed');
  await expect(refused).toContainText('Too big');
  await refused.getByRole('button', { name: 'Remove huge.bin' }).click();
  await expect(refused).toHaveCount(0);
});

test('a guest is told that only accounts share files', async ({ browser, server }) => {
  const guest = await openGuest(browser, server);
  await expect(guest.getByTestId('status')).toHaveAttribute('data-state', 'connected');
  const attach = guest.getByTestId('attach');
  await expect(attach).toBeDisabled();
  await expect(attach).toHaveAttribute('title', /Sign in to share files/);
});
