// Step-up, the second-factor policy and the audit view, on a portal of this spec's own
// whose step-up window is 10 seconds (UNIONPORTAL_STEP_UP_WINDOW): the tests can then
// outlast it, and the policy they change reaches no other spec's users.
import { expect, test as base, type Page } from '@playwright/test'
import { noSeriousViolations, signInWithPassword, stepUpWindowEnds } from './helpers'
import { startPortal, type Portal } from './portal'
import { Authenticator } from './totp'

const test = base.extend<object, { portal: Portal }>({
  portal: [
    async ({}, use) => {
      const portal = await startPortal('localhost', { UNIONPORTAL_STEP_UP_WINDOW: '10s' })
      await use(portal)
      await portal.stop()
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ portal }, use) => use(portal.url),
})

const prompt = (page: Page) => page.getByRole('dialog', { name: 'Confirm it is you' })

test('after the step-up window, saving the settings asks for the password; cancelling keeps the form; then they are saved', async ({ page, portal }) => {
  const admin = portal.logins.tenant_admin
  await signInWithPassword(page, admin)
  await page.getByRole('link', { name: 'Administration' }).click()
  const place = page.getByLabel('Place of the letters')
  await expect(place).toHaveValue('Geneva')
  await stepUpWindowEnds(page)

  await place.fill('Geneva, Switzerland')
  await page.getByRole('button', { name: 'Save the settings' }).click()
  await expect(prompt(page)).toBeVisible()
  await expect(prompt(page).getByLabel('Your password')).toBeFocused()
  await expect(prompt(page)).toContainText('confirm it is you with your password')
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/step-up.png', fullPage: true })
  await prompt(page).getByRole('button', { name: 'Cancel' }).click()
  await expect(prompt(page)).toHaveCount(0)
  await expect(page.getByRole('alert')).toHaveText('Not done: it needs you to confirm it is you. Try again when you are ready; what you entered is still here.')
  await expect(place).toHaveValue('Geneva, Switzerland')
  await expect(page.getByRole('button', { name: 'Save the settings' })).toBeFocused()

  await page.getByRole('button', { name: 'Save the settings' }).click()
  await prompt(page).getByLabel('Your password').fill('not the password at all')
  await prompt(page).getByRole('button', { name: 'Confirm' }).click()
  await expect(prompt(page).getByRole('alert')).toHaveText('The password is wrong.')
  await prompt(page).getByLabel('Your password').fill(admin.password)
  await prompt(page).getByRole('button', { name: 'Confirm' }).click()
  await expect(prompt(page)).toHaveCount(0)
  await expect(page.getByRole('status')).toHaveText('Settings saved.')
  await page.reload()
  await expect(page.getByLabel('Place of the letters')).toHaveValue('Geneva, Switzerland')
})

test('the policy: every member needs a second factor; those without one are led to add it; an act confirmed with the app; the audit view shows and filters it', async ({
  page,
  browser,
  portal,
}) => {
  const admin = portal.logins.tenant_admin
  // Whenever the 10 seconds have passed before an act, the prompt asks for the password.
  await page.addLocatorHandler(prompt(page).getByLabel('Your password'), async () => {
    await prompt(page).getByLabel('Your password').fill(admin.password)
    await prompt(page).getByRole('button', { name: 'Confirm' }).click()
    await expect(prompt(page)).toHaveCount(0)
  })
  await signInWithPassword(page, admin)
  await page.getByRole('link', { name: 'Administration' }).click()
  const policy = page.getByRole('group', { name: 'Who must sign in with a second factor' })
  await expect(policy.getByLabel('Nobody')).toBeChecked() // the demo's
  await noSeriousViolations(page)
  await policy.getByLabel('Every member').check()
  await page.getByRole('button', { name: 'Save the policy' }).click()
  await expect(page.getByText("Policy saved. It applies from each member's next request.")).toBeVisible()

  // A member without a factor signs in: only the page that adds one.
  const viewer = await (await browser.newContext()).newPage()
  await signInWithPassword(viewer, portal.logins.viewer)
  await expect(viewer.getByRole('heading', { level: 1, name: 'Sign-in security' })).toBeVisible()
  await expect(viewer.getByTestId('enrolment-required')).toHaveText(/Your federation requires a second factor for your roles/)
  await expect(viewer.getByRole('link', { name: 'Home' })).toHaveCount(0)
  await noSeriousViolations(viewer)
  await viewer.screenshot({ path: 'test-results/screens/enrolment.png', fullPage: true })
  await viewer.close()

  // The admin too, at the next request.
  await page.getByRole('link', { name: 'Home' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Sign-in security' })).toBeVisible()
  await expect(page.getByTestId('enrolment-required')).toBeVisible()
  await page.getByRole('button', { name: 'Add an authenticator app' }).click()
  const app = new Authenticator((await page.getByTestId('totp-secret').textContent())!.replace(/\s+/g, ''))
  await page.getByLabel('2. Code the app shows now').fill(await app.nextCode())
  await page.getByRole('button', { name: 'Confirm' }).click()
  await page.getByLabel('I have saved these codes somewhere safe').check()
  await page.getByRole('button', { name: 'Done' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await page.removeLocatorHandler(prompt(page).getByLabel('Your password'))

  // With a factor, the prompt asks for it (or a recovery code), not the password.
  await page.getByRole('link', { name: 'Administration' }).click()
  await stepUpWindowEnds(page)
  await policy.getByLabel('Administrators, reviewers and signatories (recommended)').check()
  page.once('dialog', (d) => void d.accept()) // fewer people must have a factor: asked first
  await page.getByRole('button', { name: 'Save the policy' }).click()
  await expect(prompt(page)).toContainText('confirm it is you with your second factor')
  await expect(prompt(page).getByLabel('Your password')).toHaveCount(0)
  await expect(prompt(page).getByRole('button', { name: 'Use a recovery code instead' })).toBeVisible()
  await prompt(page).getByLabel('Code from your authenticator app').fill(await app.nextCode())
  await prompt(page).getByRole('button', { name: 'Confirm' }).click()
  await expect(page.getByText("Policy saved. It applies from each member's next request.")).toBeVisible()

  // The audit view: what was done, in words; filtered; the CSV with the same filters.
  await page.getByRole('link', { name: 'Audit trail: who did what, and when' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Audit trail' })).toBeVisible()
  const events = page.getByTestId('audit-events').getByRole('listitem')
  // The demo's seeding set the policy first, as the portal (no member).
  await expect(events.filter({ hasText: 'Sign-in security policy changed' })).toHaveCount(3)
  await expect(events.filter({ hasText: 'Sign-in security policy changed' }).last()).toContainText('the portal')
  await expect(events.filter({ hasText: 'Second factor added' })).toHaveCount(1)
  await expect(events.filter({ hasText: 'Settings changed' }).first()).toBeVisible()
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/audit.png', fullPage: true })

  await page.getByLabel('What').selectOption({ label: 'Sign-in security policy changed' })
  await page.getByLabel('Who').selectOption({ label: 'Tenant admin (demo)' })
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(page.getByText('2 events shown, newest first.')).toBeVisible()
  await expect(events.first()).toContainText('"second_factor_required_for":"privileged_roles"')
  await expect(page).toHaveURL(/action=security_policy\.changed/)
  const csv = await page.getByTestId('audit-csv').getAttribute('href')
  expect(csv).toContain('action=security_policy.changed')
  const file = await page.request.get(csv!)
  expect(file.headers()['content-type']).toContain('text/csv')
  const rows = (await file.text()).trim().split('\n')
  expect(rows).toHaveLength(3) // the header and two events
  expect(rows.slice(1).every((r) => r.includes('security_policy.changed'))).toBe(true)

  await page.getByLabel('What').selectOption({ label: 'All: Second factors' })
  await page.getByLabel('Who').selectOption({ label: 'Anyone' })
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(events.filter({ hasText: 'Second factor being added' })).toHaveCount(1)
  await expect(events).toHaveCount(2)

  const tomorrow = new Date(Date.now() + 86_400_000)
  const day = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, '0')}-${String(tomorrow.getDate()).padStart(2, '0')}`
  await page.getByLabel('From (day)').fill(day)
  await page.getByRole('button', { name: 'Show' }).click()
  await expect(page.getByText('No event matches.')).toBeVisible()
  await page.getByRole('button', { name: 'Clear the filters' }).click()
  await expect(events.filter({ hasText: 'Sign-in security policy changed' })).toHaveCount(3)
})

test('a security key confirms an act that matters: creating an API token', async ({ page, portal }) => {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  })
  const editor = portal.logins.editor
  await page.addLocatorHandler(prompt(page).getByLabel('Your password'), async () => {
    await prompt(page).getByLabel('Your password').fill(editor.password)
    await prompt(page).getByRole('button', { name: 'Confirm' }).click()
    await expect(prompt(page)).toHaveCount(0)
  })
  await signInWithPassword(page, editor)
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await page.goto('/me/security')
  await page.getByRole('button', { name: 'Add a security key or passkey' }).click()
  await page.getByLabel('I have saved these codes somewhere safe').check()
  await page.getByRole('button', { name: 'Done' }).click()
  await page.removeLocatorHandler(prompt(page).getByLabel('Your password'))

  await page.getByRole('link', { name: 'API tokens' }).click()
  await page.getByLabel('Name of the token').fill('case management')
  await stepUpWindowEnds(page)
  await page.getByRole('button', { name: 'Create the token' }).click()
  await expect(prompt(page).getByLabel('Code from your authenticator app')).toHaveCount(0)
  await prompt(page).getByRole('button', { name: 'Use your security key or passkey' }).click()
  await expect(prompt(page)).toHaveCount(0)
  await expect(page.getByTestId('new-token')).toHaveText(/^up_/)
})
