import { expect, test, type Page } from '@playwright/test'
import { logins } from './helpers'

async function signInAs(page: Page, email: string, password: string) {
  await page.goto('/')
  await page.getByLabel('E-mail address').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
}

test('an editor of another union cannot see the draft, not even by its address', async ({ browser }) => {
  // The editor of the demo's affiliate finds the address of the draft.
  const owner = await (await browser.newContext()).newPage()
  await signInAs(owner, logins.editor.email, logins.editor.password)
  await owner.getByRole('link', { name: /Update on Case 3386/ }).click()
  const draftURL = owner.url()

  // The tenant admin adds another union and invites an editor of it.
  const admin = await (await browser.newContext()).newPage()
  await signInAs(admin, logins.tenant_admin.email, logins.tenant_admin.password)
  await admin.getByRole('link', { name: 'Administration' }).click()
  await admin.getByLabel('Name of the organization').fill('Builders of Bishkek')
  await admin.getByLabel('Country (two letters, such as KG)').fill('KG')
  await admin.getByRole('button', { name: 'Add the organization' }).click()
  await expect(admin.getByText('Builders of Bishkek added.')).toBeVisible()
  await admin.reload()
  await admin.getByLabel('E-mail address', { exact: true }).last().fill('builder@bishkek.example')
  await admin.getByLabel('Name', { exact: true }).last().fill('Builder')
  await admin.getByLabel('Organization', { exact: true }).selectOption({ label: 'Builders of Bishkek' })
  await admin.getByLabel('Initial password (used only if the address has no account yet)').fill('another long passphrase 77')
  await admin.getByRole('button', { name: 'Invite', exact: true }).click()
  await expect(admin.getByText('Invitation recorded for builder@bishkek.example.')).toBeVisible()

  // The other union's editor sees nothing of it.
  const other = await (await browser.newContext()).newPage()
  await signInAs(other, 'builder@bishkek.example', 'another long passphrase 77')
  await expect(other.getByText(/Update on Case 3386/)).toHaveCount(0)
  await other.goto(draftURL)
  await expect(other.getByRole('alert')).toHaveText('This submission does not exist, or you may not see it.')
  await expect(other.getByText(/Update on Case 3386/)).toHaveCount(0)
})
