// Shared steps of the browser tests.
import { expect, type Page } from '@playwright/test'
import AxeBuilder from '@axe-core/playwright'

/** The demo's logins by role, from the global setup. */
export const logins = JSON.parse(process.env.UNIONPORTAL_E2E_LOGINS ?? '{}') as Record<string, { email: string; password: string }>

/** signIn signs in as the demo user of role and waits for the home page. */
export async function signIn(page: Page, role: string) {
  await page.goto('/')
  await page.getByLabel('E-mail address').fill(logins[role].email)
  await page.getByLabel('Password').fill(logins[role].password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
}

/** noSeriousViolations runs axe-core (WCAG 2.2 AA) and fails on serious or critical findings. */
export async function noSeriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']).analyze()
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([])
}
