import { expect, test } from '@playwright/test'
import { logins, signIn, noSeriousViolations } from './helpers'

test('an API token is shown once, works with the API within its scopes, and can be revoked', async ({ page, request }) => {
  await signIn(page, 'reviewer')
  await page.getByRole('link', { name: 'API tokens' }).click()
  await page.getByLabel('Name of the token').fill('case management')
  await page.getByRole('checkbox', { name: /^write/ }).uncheck() // a read-only token
  await page.getByRole('button', { name: 'Create the token' }).click()
  await noSeriousViolations(page)
  const token = (await page.getByTestId('new-token').textContent())!.trim()
  expect(token).toMatch(/^up_/)
  const me = await request.get('/api/v1/me', { headers: { Authorization: 'Bearer ' + token } })
  expect(me.status()).toBe(200)
  const write = await request.post('/api/v1/me/tokens', { headers: { Authorization: 'Bearer ' + token }, data: { name: 'x' } })
  expect(write.status()).toBe(403)
  expect((await write.json()).code).toBe('insufficient_scope')
  await expect(page.getByText(/^read · /)).toBeVisible()
  await page.reload()
  await expect(page.getByTestId('new-token')).toHaveCount(0) // shown once
  await page.getByRole('button', { name: 'Revoke case management' }).click()
  await expect(page.getByText('You have no API tokens.')).toBeVisible()
  expect((await request.get('/api/v1/me', { headers: { Authorization: 'Bearer ' + token } })).status()).toBe(401)
})

test('an editor starts a new draft for a case and lands in its editor', async ({ page }) => {
  await signIn(page, 'editor')
  await page.getByRole('link', { name: 'New submission' }).click()
  await expect(page.getByLabel('Case')).toContainText('Case No. 3386')
  await page.getByLabel('Title').fill('Follow-up on the court hearing')
  await page.getByRole('button', { name: 'Start the draft' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Edit' })).toBeVisible()
  await expect(page.getByLabel('Title')).toHaveValue('Follow-up on the court hearing')
})

test('cases: Case 3386 with its country in the user language and its submissions', async ({ page }) => {
  await signIn(page, 'viewer')
  await page.getByRole('link', { name: 'Cases' }).click()
  await page.getByRole('link', { name: /Case No. 3386/ }).click()
  await expect(page.getByRole('heading', { level: 1, name: /Case No. 3386/ })).toBeVisible()
  await expect(page.getByText('Kyrgyzstan', { exact: true })).toBeVisible()
  await noSeriousViolations(page)
  await expect(page.getByRole('link', { name: /Update on Case 3386/ })).toBeVisible()
  await page.getByLabel('Language').selectOption('fr')
  await expect(page.getByText(/^Kirghiz/)).toBeVisible() // CLDR: Kirghizstan
  await page.getByLabel('Langue').selectOption('en')
})

test('my account: memberships with roles, and a password change that the next sign-in needs', async ({ page }) => {
  const { email, password } = logins.signatory
  await signIn(page, 'signatory')
  await page.getByRole('link', { name: 'My account' }).click()
  await expect(page.getByText(/IndustriALL Global Union secretariat \(Signatory\)/)).toBeVisible()
  await noSeriousViolations(page)
  const change = async (from: string, to: string) => {
    await page.getByLabel('Current password').fill(from)
    await page.getByLabel('New password (at least 12 characters, not a common one)').fill(to)
    await page.getByRole('button', { name: 'Change the password' }).click()
    await expect(page.getByRole('status')).toHaveText('Password changed. Your other sessions have ended.')
  }
  await page.getByLabel('Current password').fill(password)
  await page.getByLabel('New password (at least 12 characters, not a common one)').fill('password1234')
  await page.getByRole('button', { name: 'Change the password' }).click()
  await expect(page.getByRole('alert')).toContainText('password')
  await change(password, 'a brand new passphrase for 2027')
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.getByLabel('E-mail address').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toHaveText('The e-mail address or the password is wrong.')
  await page.getByLabel('Password').fill('a brand new passphrase for 2027')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('link', { name: 'My account' }).click()
  await change('a brand new passphrase for 2027', password) // as it was, for other tests
})
