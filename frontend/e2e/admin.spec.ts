import { expect, test } from '@playwright/test'
import { signIn } from './helpers'
import AxeBuilder from '@axe-core/playwright'

test('administration: settings are refused with the field named, recipient changes are confirmed, a member is invited', async ({ page }) => {
  await signIn(page, 'tenant_admin')
  await page.getByRole('link', { name: 'Administration' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Administration' })).toBeVisible()
  await expect(page.getByText(/Test mode: letters are not sent to the ILO/)).toBeVisible()
  const serious = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(serious.map((v) => v.id)).toEqual([])
  await page.screenshot({ path: 'test-results/screens/admin.png', fullPage: true })

  // Another federation's sender address: refused, naming the field.
  const from = page.getByLabel('Sender address (at a verified domain)')
  const original = await from.inputValue()
  await from.fill('cfa@another-federation.example')
  await page.getByRole('button', { name: 'Save the settings' }).click()
  await expect(page.getByRole('alert')).toContainText('dispatch.from.address')
  await from.fill(original)

  // Adding a recipient asks first; saying no keeps the settings as they were.
  await page.getByRole('button', { name: 'Add a recipient' }).click()
  await page.getByLabel('Address').last().fill('watcher@elsewhere.example')
  page.once('dialog', (d) => void d.dismiss())
  await page.getByRole('button', { name: 'Save the settings' }).click()
  await expect(page.getByRole('status')).toHaveCount(0)
  await page.getByRole('button', { name: 'Remove recipient 3' }).click()
  await page.getByRole('button', { name: 'Save the settings' }).click()
  await expect(page.getByRole('status')).toHaveText('Settings saved.')

  // Inviting a new member.
  await page.getByLabel('E-mail address', { exact: true }).last().fill('new.member@mmtuk.example')
  await page.getByLabel('Name', { exact: true }).last().fill('New Member')
  await page.getByLabel('Initial password (used only if the address has no account yet)').fill('a long and unusual passphrase 42')
  await page.getByRole('button', { name: 'Invite', exact: true }).click()
  await expect(page.getByText('Invitation recorded for new.member@mmtuk.example.')).toBeVisible()
})
