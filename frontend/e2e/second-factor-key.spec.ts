import { expect, test } from '@playwright/test'
import { logins, newMember, noSeriousViolations, signInWithPassword } from './helpers'

test('a security key: registered through Chromium’s virtual authenticator, used to sign in, renamed and removed', async ({ page, baseURL }) => {
  // The DevTools protocol's WebAuthn domain gives the page an authenticator that
  // answers at once, as a passkey of this device would.
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  })

  const me = await newMember(baseURL!, logins.tenant_admin, 'key')
  await signInWithPassword(page, me)
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await page.goto('/me/security')
  await page.getByLabel('Name of the new factor (optional, such as Phone or Blue key)').fill('Laptop')
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click()
  await expect(page.getByRole('heading', { level: 2, name: 'Your recovery codes' })).toBeVisible()
  const codes = await page.getByTestId('recovery-codes').locator('code').allTextContents()
  await page.getByLabel('I have saved these codes somewhere safe').check()
  await page.getByRole('button', { name: 'Done' }).click()
  await expect(page.getByRole('listitem').filter({ hasText: 'Laptop' })).toContainText('Security key or passkey · added')
  expect((await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials).toHaveLength(1)

  // Signing in: the password, then the key; no code to type.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await signInWithPassword(page, me)
  await expect(page.getByRole('heading', { level: 1, name: 'Sign in: second step' })).toBeVisible()
  await expect(page.getByLabel('Code from your authenticator app')).toHaveCount(0)
  await noSeriousViolations(page)
  await page.getByRole('button', { name: 'Use your security key or passkey' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  const used = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials[0].signCount
  expect(used).toBeGreaterThan(0)

  // A device without the key (its passkey was deleted): said next to the button, and
  // the recovery code is still offered.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await cdp.send('WebAuthn.clearCredentials', { authenticatorId })
  await signInWithPassword(page, me)
  await page.getByRole('button', { name: 'Use your security key or passkey' }).click()
  await expect(page.getByRole('alert')).toHaveText(/The security key did not answer|The security key could not be used/, { timeout: 20_000 })
  await page.getByRole('button', { name: 'Use a recovery code instead' }).click()
  await page.getByLabel('Recovery code').fill(codes[0])
  await page.getByRole('button', { name: 'Continue' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()

  // Renamed, then removed: the dialog says it is the last factor.
  await page.goto('/me/security')
  await page.getByRole('button', { name: 'Rename Laptop' }).click()
  await page.getByLabel('New name for Laptop').fill('Work laptop')
  await page.getByRole('button', { name: 'Save the name' }).click()
  await expect(page.getByRole('status')).toHaveText('Renamed to Work laptop.')
  await page.getByRole('button', { name: 'Remove Work laptop' }).click()
  const confirm = page.getByRole('dialog', { name: 'Remove Work laptop?' })
  await expect(confirm).toContainText('It is your last second factor')
  await confirm.getByRole('button', { name: 'Cancel' }).click()
  await expect(confirm).toHaveCount(0)
  await expect(page.getByRole('button', { name: 'Remove Work laptop' })).toBeFocused()
  await page.getByRole('button', { name: 'Remove Work laptop' }).click()
  await confirm.getByRole('button', { name: 'Remove' }).click()
  await expect(page.getByRole('status')).toHaveText('Work laptop removed.')
  await expect(page.getByText('You have no second factor yet.')).toBeVisible()
})
