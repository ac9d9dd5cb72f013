// Helpers of the accounts specs: a guest's page, signing up and in through the page's forms.
import type { Browser, Page } from '@playwright/test';
import { expect } from './fixtures';
import type { PalaverServer } from '../support/server.mjs';

export const PASSWORD = 'correct horse battery';

/** The chat in a fresh browser context (a device) with nothing saved: a guest. */
export async function openGuest(browser: Browser, server: PalaverServer, at = '/'): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}${at}`);
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  return page;
}

/** The account the page is signed in as, once it says so. */
export async function expectSignedIn(page: Page, name: string) {
  await expect(page.getByTestId('account-name')).toHaveText(name);
  await expect(page.getByTestId('status')).toHaveAttribute('data-state', 'connected');
}

/** Opens the sign-up form (unless open), fills it and sends it; does not wait for the outcome. */
export async function submitSignUp(page: Page, name: string, password = PASSWORD) {
  const form = page.getByTestId('auth-form');
  await openForm(page, 'sign-up');
  await expect(form).toHaveAttribute('data-form', 'sign-up');
  await page.locator('#auth-name').fill(name);
  await page.locator('#auth-password').fill(password);
  await form.getByRole('button', { name: 'Sign up', exact: true }).click();
}

export async function signUp(page: Page, name: string, password = PASSWORD) {
  await submitSignUp(page, name, password);
  await expectSignedIn(page, name);
}

/** Opens the sign-in form (unless open), fills it and sends it; does not wait for the outcome. */
export async function submitSignIn(page: Page, name: string, password = PASSWORD) {
  const form = page.getByTestId('auth-form');
  await openForm(page, 'sign-in');
  await expect(form).toHaveAttribute('data-form', 'sign-in');
  await page.locator('#auth-name').fill(name);
  await page.locator('#auth-password').fill(password);
  await form.getByRole('button', { name: 'Sign in', exact: true }).click();
}

export async function signIn(page: Page, name: string, password = PASSWORD) {
  await submitSignIn(page, name, password);
  await expectSignedIn(page, name);
}

/** `/admin` in the same browser context as `page` (its cookie), without the admin token. */
export async function openAdminAs(page: Page, server: PalaverServer): Promise<Page> {
  const admin = await page.context().newPage();
  await admin.goto(`${server.url}/admin`);
  await expect(admin.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(admin.getByTestId('admin-access')).toHaveText('Connected');
  return admin;
}

/** Which account form the page shows now, if any. */
async function formShown(page: Page): Promise<string | null> {
  const form = page.getByTestId('auth-form');
  return (await form.count()) === 0 ? null : form.getAttribute('data-form');
}

/** Shows the sign-in or sign-up form: from the header, or by switching the form shown. */
async function openForm(page: Page, which: 'sign-in' | 'sign-up') {
  const shown = await formShown(page);
  if (shown === which) return;
  if (shown === null) {
    const label = which === 'sign-in' ? 'Sign in' : 'Sign up';
    await page.getByTestId('account').getByRole('button', { name: label, exact: true }).click();
  } else {
    const label = which === 'sign-in' ? 'Have an account? Sign in instead' : 'New here? Sign up';
    await page.getByTestId('auth-form').getByRole('button', { name: label, exact: true }).click();
  }
}
