import { expect, test, type Page } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { logins, newMember, noSeriousViolations, signInWithPassword } from './helpers'
import { Authenticator } from './totp'

const submissions = (page: Page) => page.getByRole('heading', { level: 1, name: 'Submissions' })

test('an authenticator app: added from Sign-in security with the secret it shows, then asked at sign-in; a recovery code works once', async ({ page, baseURL }) => {
  const me = await newMember(baseURL!, logins.tenant_admin, 'app')
  await signInWithPassword(page, me)
  await expect(submissions(page)).toBeVisible()
  await page.getByRole('link', { name: 'My account' }).click()
  await expect(page.getByText('You sign in with your password alone.')).toBeVisible()
  await page.getByRole('link', { name: 'Manage your second factors and recovery codes' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Sign-in security' })).toBeVisible()
  await expect(page.getByText('You have no second factor yet.')).toBeVisible()
  await noSeriousViolations(page)

  // Adding it: the QR code, and the same secret as text, which the test's app reads.
  await page.getByLabel('Name of the new factor (optional, such as Phone or Blue key)').fill('Phone')
  await page.getByRole('button', { name: 'Add an authenticator app' }).click()
  await expect(page.getByRole('img', { name: "QR code of the new authenticator app's secret" })).toBeVisible()
  await noSeriousViolations(page)
  const secret = (await page.getByTestId('totp-secret').textContent())!.replace(/\s+/g, '')
  expect(secret).toMatch(/^[A-Z2-7]{16,}$/)
  const app = new Authenticator(secret)
  const first = page.getByLabel('2. Code the app shows now')
  await expect(first).toHaveAttribute('autocomplete', 'one-time-code')
  await first.fill(app.wrongCode())
  await page.getByRole('button', { name: 'Confirm' }).click()
  await expect(page.getByRole('alert')).toHaveText('This code is wrong or was used already. Wait for the next code and enter it.')
  await expect(first).toBeFocused()
  await first.fill(await app.nextCode())
  await page.getByRole('button', { name: 'Confirm' }).click()

  // The recovery codes of a first factor, shown once, until they are saved.
  await expect(page.getByRole('heading', { level: 2, name: 'Your recovery codes' })).toBeFocused()
  const codes = await page.getByTestId('recovery-codes').locator('code').allTextContents()
  expect(codes).toHaveLength(10)
  codes.forEach((c) => expect(c).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/))
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/recovery-codes.png', fullPage: true })
  const downloading = page.waitForEvent('download')
  await page.getByRole('button', { name: 'Download them as a text file' }).click()
  const file = await downloading
  expect(file.suggestedFilename()).toBe('unionportal-recovery-codes-localhost.txt')
  expect(readFileSync((await file.path())!, 'utf8')).toContain(codes.join('\n'))
  const done = page.getByRole('button', { name: 'Done' })
  await expect(done).toBeDisabled()
  await page.getByLabel('I have saved these codes somewhere safe').check()
  await done.click()
  await expect(page.getByRole('listitem').filter({ hasText: 'Phone' })).toContainText('Authenticator app · added')
  await expect(page.getByText('Unused recovery codes: 10.')).toBeVisible()

  // Signing in now asks for the app's code after the password.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await signInWithPassword(page, me)
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in: second step' })).toBeVisible()
  const code = page.getByLabel('Code from your authenticator app')
  await expect(code).toBeFocused()
  await expect(code).toHaveAttribute('autocomplete', 'one-time-code')
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/second-step.png', fullPage: true })
  await code.fill(app.wrongCode())
  await page.getByRole('button', { name: 'Continue' }).click()
  await expect(page.getByRole('alert')).toHaveText('This code is wrong or was used already. Wait for the next code and enter it.')
  await code.fill(await app.nextCode())
  await page.getByRole('button', { name: 'Continue' }).click()
  await expect(submissions(page)).toBeVisible()

  // A recovery code instead: it works once.
  const withRecovery = async (recovery: string) => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await signInWithPassword(page, me)
    await page.getByRole('button', { name: 'Use a recovery code instead' }).click()
    await page.getByLabel('Recovery code').fill(recovery)
    await page.getByRole('button', { name: 'Continue' }).click()
  }
  await withRecovery(codes[0])
  await expect(submissions(page)).toBeVisible()
  await withRecovery(codes[0].toUpperCase())
  await expect(page.getByRole('alert')).toHaveText('This recovery code is wrong or was used already.')
  await page.getByLabel('Recovery code').fill(codes[1])
  await page.getByRole('button', { name: 'Continue' }).click()
  await expect(submissions(page)).toBeVisible()
  await page.getByRole('link', { name: 'My account' }).click()
  await expect(page.getByText('You sign in with a second factor (8 recovery codes left).')).toBeVisible()
})

test('the second step closes after 5 minutes: back to the password, saying why', async ({ page, baseURL }) => {
  const me = await newMember(baseURL!, logins.tenant_admin, 'late')
  await signInWithPassword(page, me)
  await expect(submissions(page)).toBeVisible()
  await page.goto('/me/security')
  await page.getByRole('button', { name: 'Add an authenticator app' }).click()
  const app = new Authenticator((await page.getByTestId('totp-secret').textContent())!.replace(/\s+/g, ''))
  await page.getByLabel('2. Code the app shows now').fill(await app.nextCode())
  await page.getByRole('button', { name: 'Confirm' }).click()
  await page.getByLabel('I have saved these codes somewhere safe').check()
  await page.getByRole('button', { name: 'Done' }).click()
  await page.getByRole('button', { name: 'Sign out' }).click()

  // The browser's clock runs ahead: the page gives up when the API's deadline passes.
  await page.clock.install()
  await signInWithPassword(page, me)
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in: second step' })).toBeVisible()
  await page.clock.runFor(5 * 60_000 + 1000)
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in' })).toBeVisible()
  await expect(page.getByRole('status')).toHaveText('The second step waited more than 5 minutes, so it was closed. Sign in again with your password.')
  await expect(page.getByLabel('Password')).toBeFocused()
})
