import { expect, test, type Page } from '@playwright/test'
import { signIn } from './helpers'

async function fits(page: Page, what: string) {
  await page.waitForLoadState('networkidle') // measured with its content, not before
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
  expect(overflow, `${what} is wider than a 360 px phone`).toBeLessThanOrEqual(0)
}

test('every main screen fits a 360 px phone', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 })
  await page.goto('/')
  await fits(page, 'sign-in')
  await signIn(page, 'tenant_admin')
  await fits(page, 'home')
  for (const [link, what] of [
    ['Cases', 'cases'],
    ['Administration', 'administration'],
    ['API tokens', 'tokens'],
    ['My account', 'account'],
  ]) {
    await page.getByRole('link', { name: link }).click()
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible()
    await fits(page, what)
  }
  for (const [path, what] of [
    ['/me/security', 'Sign-in security'],
    ['/t/industriall/audit', 'Audit trail'],
  ]) {
    await page.goto(path)
    await expect(page.getByRole('heading', { level: 1, name: what })).toBeVisible()
    await fits(page, what)
  }
  await page.getByRole('link', { name: 'Home' }).click()
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await expect(page.getByRole('heading', { level: 1, name: /Update on Case 3386/ })).toBeVisible()
  await fits(page, 'submission')
  await page.screenshot({ path: 'test-results/screens/submission-360.png', fullPage: true })
})

test('the editor fits a 360 px phone', async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 })
  await signIn(page, 'editor')
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await page.getByRole('link', { name: 'Edit' }).click()
  await expect(page.getByLabel('Text (Markdown)')).toBeVisible()
  await fits(page, 'editor')
})
