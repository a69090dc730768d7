import { expect, test } from '@playwright/test'
import { logins, signIn, noSeriousViolations } from './helpers'

test('a wrong password is refused with a readable message, in an accessible page', async ({ page }) => {
  await page.goto('/')
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
  await noSeriousViolations(page)
  await page.getByLabel('E-mail address').fill(logins.editor.email)
  await page.getByLabel('Password').fill('not the password at all')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or the password is wrong.')
  await page.screenshot({ path: 'test-results/screens/sign-in.png', fullPage: true })
})

test('an editor signs in and sees the Case 3386 draft; the language switches and stays', async ({ page }) => {
  await signIn(page, 'editor')
  await expect(page.getByRole('heading', { level: 2, name: /Draft/ })).toBeVisible()
  await expect(page.getByText('Update on Case 3386', { exact: false })).toBeVisible()
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/home.png', fullPage: true })

  await page.getByLabel('Language').selectOption('fr')
  await expect(page.getByRole('heading', { level: 1, name: 'Communications' })).toBeVisible()
  await expect(page.getByRole('heading', { level: 2, name: /Projet/ })).toBeVisible()
  await page.getByLabel('Langue').selectOption('ru')
  await expect(page.getByRole('heading', { level: 1, name: 'Сообщения' })).toBeVisible()
  await expect(page.locator('html')).toHaveAttribute('lang', 'ru')
  // Remembered for this user after a reload, and in another browser: the account has it.
  await page.reload()
  await expect(page.getByRole('heading', { level: 1, name: 'Сообщения' })).toBeVisible()
  const elsewhere = await (await page.context().browser()!.newContext()).newPage()
  await elsewhere.goto('/')
  await elsewhere.getByLabel('E-mail address').fill(logins.editor.email)
  await elsewhere.getByLabel('Password').fill(logins.editor.password)
  await elsewhere.getByRole('button', { name: 'Sign in' }).click()
  await expect(elsewhere.getByRole('heading', { level: 1, name: 'Сообщения' })).toBeVisible()
  await elsewhere.close()
  await page.getByLabel('Язык').selectOption('en')

  await page.getByRole('button', { name: 'Sign out' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
})

test('a viewer of the affiliate sees the draft, and the page fits a 360 px phone', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 })
  await signIn(page, 'viewer')
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  expect(overflow).toBeLessThanOrEqual(0)
  await page.screenshot({ path: 'test-results/screens/home-360.png', fullPage: true })
})

test('an expired session returns to sign-in with a message, then to the page', async ({ page, context }) => {
  await signIn(page, 'reviewer')
  await page.goto('/cases?from=queue')
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await context.clearCookies() // the session ends on the server's side of the browser
  await page.reload()
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
  await expect(page.getByRole('status')).toHaveText('Your session ended. Sign in again to continue where you were.')
  await page.getByLabel('E-mail address').fill(logins.reviewer.email)
  await page.getByLabel('Password').fill(logins.reviewer.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await expect(page).toHaveURL(/\/cases\?from=queue$/)
})

test('a tenant admin sees what keeps letters from the ILO', async ({ page }) => {
  await signIn(page, 'tenant_admin')
  await expect(page.getByTestId('setup-warnings')).toContainText('Test mode is on')
  await noSeriousViolations(page)
})
