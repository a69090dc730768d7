import { expect, test } from '@playwright/test'
import { logins, signIn } from './helpers'
import AxeBuilder from '@axe-core/playwright'

test('two tabs edit one draft: the conflict is shown with both texts, and nothing is lost', async ({ browser }) => {
  const context = await browser.newContext()
  const first = await context.newPage()
  await signIn(first, 'editor')
  await first.getByRole('link', { name: /Update on Case 3386/ }).click()
  await first.getByRole('link', { name: 'Edit' }).click()
  await expect(first.getByLabel('Text (Markdown)')).not.toHaveValue('')
  const editURL = first.url()
  const serious = (await new AxeBuilder({ page: first }).analyze()).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([])

  // A second tab opens the same draft, at the same version.
  const second = await context.newPage()
  await second.goto(editURL)
  await expect(second.getByLabel('Text (Markdown)')).not.toHaveValue('')

  // The first tab saves first.
  const saved = first.waitForResponse((r) => r.request().method() === 'PATCH' && r.ok())
  await first.getByLabel('Title').fill('Update on Case 3386 (first tab)')
  await saved
  await expect(first.getByTestId('save-status')).toHaveText('All changes saved.')

  // The second tab's change meets the newer version: both texts are shown.
  const mine = 'Text from the second tab, which must not be lost.'
  await second.getByLabel('Text (Markdown)').fill(mine)
  await expect(second.getByTestId('save-status')).toHaveText(/Someone else saved this draft/)
  await expect(second.getByLabel('Your version', { exact: true })).toHaveValue(mine)
  await expect(second.getByLabel('The saved version', { exact: true })).not.toHaveValue(mine)
  await second.screenshot({ path: 'test-results/screens/conflict.png', fullPage: true })

  // Keeping mine saves it over the other; a reload shows it.
  await second.getByRole('button', { name: 'Keep my version' }).click()
  await expect(second.getByTestId('save-status')).toHaveText('All changes saved.')
  await second.reload()
  await expect(second.getByLabel('Text (Markdown)')).toHaveValue(mine)
  await expect(second.getByLabel('Title')).toHaveValue('Update on Case 3386 (first tab)')
})

test('the editor previews the Markdown as it is typed, without running what it must not', async ({ page }) => {
  await page.goto('/')
  await page.getByLabel('E-mail address').fill(logins.editor.email)
  await page.getByLabel('Password').fill(logins.editor.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await page.getByRole('link', { name: 'Edit' }).click()
  const body = page.getByLabel('Text (Markdown)')
  const text = await body.inputValue()
  let alerted = false
  page.on('dialog', (d) => {
    alerted = true
    void d.dismiss()
  })
  await body.fill(text + '\n\n## Hearing\n\n**Adjourned** to June. <img src=x onerror="alert(1)">')
  const preview = page.getByTestId('preview')
  await expect(preview.getByRole('heading', { name: 'Hearing' })).toBeVisible()
  await expect(preview.locator('strong')).toContainText('Adjourned')
  await expect(preview.locator('img')).toHaveCount(0)
  expect(alerted).toBe(false)
  await body.fill(text) // as it was
  await expect(preview.getByRole('heading', { name: 'Hearing' })).toHaveCount(0)
})
