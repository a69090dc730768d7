import { expect, test, type Page } from '@playwright/test'
import { logins } from './helpers'

/** Tabs through the page and checks that every visible control is reached, and shows
 * that it has the focus (an outline). */
const controlSelector = 'a[href], button:not([disabled]), input:not([type=hidden]):not(.visually-hidden), select, textarea'

async function everyControlByKeyboard(page: Page, what: string) {
  const controls = await page.evaluate(
    (sel) => [...document.querySelectorAll<HTMLElement>(sel)].filter((el) => el.offsetParent !== null).length,
    controlSelector,
  )
  await page.locator('body').click({ position: { x: 1, y: 1 } })
  const seen = new Set<string>()
  // Scrollable regions and other focus stops that are not controls take Tab presses
  // too: room for them, and done once every control was reached.
  for (let i = 0; i < controls * 2 + 20 && seen.size < controls; i++) {
    await page.keyboard.press('Tab')
    const info = await page.evaluate((sel) => {
      const el = document.activeElement as HTMLElement | null
      if (!el || el === document.body) return null
      const style = getComputedStyle(el)
      const within = el.closest('label') ?? el
      const outline = getComputedStyle(within).outlineStyle !== 'none' || style.outlineStyle !== 'none' || style.boxShadow !== 'none'
      // Each control gets a number the first time it has the focus.
      const w = window as unknown as { kbd?: number }
      el.dataset.kbd ??= String((w.kbd = (w.kbd ?? 0) + 1))
      const name = el.tagName + ':' + (el.id || el.getAttribute('href') || el.textContent?.trim().slice(0, 30) || '')
      return { path: name + '#' + el.dataset.kbd, outline, control: el.matches(sel) }
    }, controlSelector)
    if (!info) continue
    expect(info.outline, `${what}: ${info.path} has no visible focus`).toBe(true)
    if (info.control) seen.add(info.path)
  }
  expect(seen.size, `${what}: Tab reached ${seen.size} of ${controls} controls`).toBeGreaterThanOrEqual(controls)
}

test('every main screen can be used with the keyboard alone, with visible focus', async ({ page }) => {
  await page.goto('/')
  await everyControlByKeyboard(page, 'sign-in')
  // Signing in with the keyboard.
  await page.getByLabel('E-mail address').focus()
  await page.keyboard.type(logins.tenant_admin.email)
  await page.keyboard.press('Tab')
  await page.keyboard.type(logins.tenant_admin.password)
  await page.keyboard.press('Enter')
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await everyControlByKeyboard(page, 'home')
  for (const link of ['Cases', 'Administration', 'API tokens', 'My account']) {
    await page.getByRole('link', { name: link }).click()
    // The new page's own heading (the previous page's is visible until it goes), and its
    // data loaded, before its controls are counted.
    await expect(page.getByRole('heading', { level: 1, name: link, exact: true })).toBeVisible()
    await page.waitForLoadState('networkidle')
    await everyControlByKeyboard(page, link)
  }
  for (const [path, heading] of [
    ['/me/security', 'Sign-in security'],
    ['/t/industriall/audit', 'Audit trail'],
  ]) {
    await page.goto(path)
    await expect(page.getByRole('heading', { level: 1, name: heading })).toBeVisible()
    await page.waitForLoadState('networkidle')
    await everyControlByKeyboard(page, heading)
  }
  await page.getByRole('link', { name: 'Home' }).click()
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await expect(page.getByRole('heading', { level: 1, name: /Update on Case 3386/ })).toBeVisible()
  await everyControlByKeyboard(page, 'submission')
})
