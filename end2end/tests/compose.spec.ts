import { test, expect, openChat, send, messageWithText } from './fixtures';

// Composing: a multi-line composer (Enter sends, Shift+Enter and an input method's Enter do
// not, a paste keeps its lines, the field grows then scrolls) and the Markdown subset, drawn
// safely the same way by the server and the browser.

test('a message of several lines, typed or pasted, reaches the other person with its lines', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const composer = ann.getByLabel('Message', { exact: true });
  await expect(composer).toHaveJSProperty('tagName', 'TEXTAREA');
  await expect(composer).toHaveAttribute('dir', 'auto');
  const oneLine = (await composer.boundingBox())!.height;

  // Typed: Shift+Enter is a new line, Enter sends.
  await composer.click();
  await ann.keyboard.type('first line');
  await ann.keyboard.press('Shift+Enter');
  await ann.keyboard.type('second line');
  await expect(composer).toHaveValue('first line\nsecond line');
  expect((await composer.boundingBox())!.height).toBeGreaterThan(oneLine);
  await ann.keyboard.press('Enter');
  await expect(composer).toHaveValue('');
  const typed = messageWithText(bob, 'second line');
  await expect(typed).toHaveCount(1);
  await expect(typed.locator('.text')).toHaveJSProperty('innerText', 'first line\nsecond line');
  await expect(typed.locator('.text br')).toHaveCount(1);

  // Pasted: the lines stay.
  await ann.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await ann.evaluate(() => navigator.clipboard.writeText('pasted one\npasted two\npasted three'));
  await composer.click();
  await ann.keyboard.press('ControlOrMeta+V');
  await expect(composer).toHaveValue('pasted one\npasted two\npasted three');
  await ann.keyboard.press('Enter');
  const pasted = messageWithText(bob, 'pasted three');
  await expect(pasted.locator('.text')).toHaveJSProperty('innerText', 'pasted one\npasted two\npasted three');
  // And after a reload, from the server-rendered page.
  await bob.reload();
  await expect(messageWithText(bob, 'pasted three').locator('.text')).toHaveJSProperty(
    'innerText',
    'pasted one\npasted two\npasted three',
  );

  // An input method's Enter picks its candidate: it does not send. A plain Enter does.
  await composer.fill('こんにちは');
  const enter = (isComposing: boolean) =>
    composer.evaluate(
      (el, isComposing) =>
        el.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', isComposing, bubbles: true, cancelable: true })),
      isComposing,
    );
  await enter(true);
  await expect(composer).toHaveValue('こんにちは');
  await enter(false);
  await expect(composer).toHaveValue('');
  await expect(messageWithText(bob, 'こんにちは')).toHaveCount(1);

  // Grows up to a few lines, then scrolls.
  await composer.fill(Array.from({ length: 30 }, (_, i) => `line ${i}`).join('\n'));
  const box = (await composer.boundingBox())!.height;
  expect(box).toBeGreaterThan(oneLine * 3);
  expect(box).toBeLessThan(oneLine * 10);
  expect(await composer.evaluate((el) => el.scrollHeight > el.clientHeight)).toBe(true);
});

test('Markdown is drawn, a script stays text, and links open in a new tab safely', async ({ browser, server }) => {
  const ann = await openChat(browser, server, 'ann');
  const bob = await openChat(browser, server, 'bob');
  const text = [
    '**bold** and _italic_ with `inline <b>code</b>`',
    '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">',
    'see https://example.com/path?q=1 or [the docs](https://example.org/docs)',
    '[bad](javascript:window.__pwned=3) [mail](mailto:ann@example.com)',
    '',
    '> a quote',
    '',
    '1. one',
    '2. two',
    '',
    '- dot',
    '',
    '```',
    'let x = "*not italic*";',
    '```',
  ].join('\n');
  await send(ann, text);

  for (const page of [bob, ann]) {
    const shown = messageWithText(page, 'a quote');
    await expect(shown).toHaveAttribute('data-state', 'sent');
    const body = shown.locator('.text');
    await expect(body).toHaveAttribute('dir', 'auto');
    await expect(body.locator('strong')).toHaveText('bold');
    await expect(body.locator('em')).toHaveText('italic');
    await expect(body.locator('p code')).toHaveText('inline <b>code</b>');
    await expect(body.locator('blockquote')).toHaveText('a quote');
    await expect(body.locator('ol > li')).toHaveText(['one', 'two']);
    await expect(body.locator('ul > li')).toHaveText(['dot']);
    await expect(body.locator('pre code')).toHaveText('let x = "*not italic*";');
    // Raw HTML is text: no element was made from it, and nothing ran.
    await expect(body).toContainText('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">');
    await expect(body.locator('script, img, b')).toHaveCount(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    // Links: bare web addresses and Markdown links, in a new tab, without the opener.
    const links = body.locator('a');
    await expect(links).toHaveCount(3);
    for (const [name, href] of [
      ['https://example.com/path?q=1', 'https://example.com/path?q=1'],
      ['the docs', 'https://example.org/docs'],
      ['mail', 'mailto:ann@example.com'],
    ]) {
      const link = body.getByRole('link', { name, exact: true });
      await expect(link).toHaveAttribute('href', href);
      await expect(link).toHaveAttribute('target', '_blank');
      await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
    }
    // A `javascript:` link is refused: its text stays, as text.
    await expect(body).toContainText('bad');
    await expect(body.locator('a[href^="javascript"]')).toHaveCount(0);
  }

  // The server draws the same: after a reload, before and after hydration.
  await bob.reload();
  await expect(bob.locator('main[data-hydrated="true"]')).toBeVisible();
  const again = messageWithText(bob, 'a quote').locator('.text');
  await expect(again.locator('strong')).toHaveText('bold');
  await expect(again.locator('a')).toHaveCount(3);
  await expect(again.locator('script, img')).toHaveCount(0);
  expect(await bob.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});
