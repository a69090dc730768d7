// The ILO's correspondence (ADR 0036) against the demo: Case 3386 holds an authenticated
// acknowledgement and an unauthenticated request for further information, both filed by
// the case number (so only the secretariat sees them).
import { readFileSync } from 'node:fs'
import { expect, request, test, type Page } from '@playwright/test'
import { logins, noSeriousViolations, signIn, signInWithPassword } from './helpers'

/** openCase follows the app's links (no reload: a language just chosen is kept). */
async function openCase(page: Page, nav = 'Cases', name = 'Case No. 3386: Kyrgyzstan') {
  await page.getByRole('link', { name: nav, exact: true }).click()
  await page.getByRole('link', { name }).click()
}

/** drafter has the tenant admin add a secretariat member who both reviews and writes
 * drafts: answering a message filed by the case number needs both (reviewers see it,
 * editors start drafts), and the demo gives each role to a different person. */
async function drafter(baseURL: string) {
  const api = await request.newContext({ baseURL })
  try {
    const login = await api.post('/api/v1/auth/login', { data: logins.tenant_admin })
    expect(login.status()).toBe(200)
    const csrf = (await login.json()).csrf_token as string
    const orgs = (await (await api.get('/api/v1/tenants/industriall/organizations')).json()).items as { id: string; kind: string }[]
    const who = { email: `legal.${Date.now()}@industriall.example`, password: `a long passphrase for the legal officer ${Date.now()}` }
    const r = await api.post('/api/v1/tenants/industriall/users', {
      headers: { 'X-CSRF-Token': csrf },
      data: { ...who, name: 'Legal officer (test)', organization_id: orgs.find((o) => o.kind === 'secretariat')!.id, roles: ['reviewer', 'editor'] },
    })
    expect(r.status(), await r.text()).toBe(201)
    return who
  } finally {
    await api.dispose()
  }
}

test('a reviewer reads the thread, is warned of the unauthenticated message, and corrects its kind', async ({ page }) => {
  await signIn(page, 'reviewer')
  await openCase(page)
  const thread = page.getByTestId('correspondence')
  await expect(thread.getByRole('heading', { name: 'Correspondence with the ILO' })).toBeVisible()
  const messages = thread.getByTestId('thread-message')
  await expect(messages).toHaveCount(2)
  // Oldest first: the acknowledgement, then the request.
  await expect(messages.nth(0)).toContainText('Acknowledgement of receipt')
  await expect(messages.nth(0)).toContainText('Attachments: 1')
  await expect(messages.nth(0)).not.toContainText('Sender not authenticated')
  await expect(messages.nth(1)).toContainText('Request for further information')
  await expect(messages.nth(1)).toContainText('Sender not authenticated')
  await expect(messages.nth(1)).toContainText('Open request')
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/correspondence-thread.png', fullPage: true })

  // No mailbox is enabled in the demo: checking now says so.
  await thread.getByRole('button', { name: 'Check the mailbox now' }).click()
  await expect(thread.getByRole('alert')).toContainText("The mailbox for the ILO's answers is not enabled")

  await messages.nth(1).getByRole('link', { name: 'Case No. 3386 (Kyrgyzstan): request for further information' }).click()
  await expect(page.getByTestId('sender-warning')).toContainText('claims to come from the ILO, but its sender could not be authenticated')
  // The text as plain text, its line breaks kept.
  const body = page.getByTestId('message-body')
  expect(await body.innerText()).toContain('Dear Sir or Madam,\n\nIn connection with Case No. 3386')
  const auth = page.getByTestId('auth-details')
  await auth.getByText('Sender authentication (SPF, DKIM, DMARC)').click()
  await expect(auth).toContainText('DMARC: failed')
  await expect(auth).toContainText('Only a pass here shows that the message really comes from that domain')
  // A reviewer does not write drafts.
  await expect(page.getByRole('link', { name: 'Answer with a new draft' })).toHaveCount(0)
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/correspondence-message.png', fullPage: true })

  // Correct the kind, then put it back: a request is open again.
  await page.getByLabel('Kind of message').selectOption('government_observations')
  await page.getByRole('button', { name: 'Correct the kind' }).click()
  await expect(page.getByRole('status')).toHaveText("Saved: Government's observations.")
  await expect(page.getByRole('button', { name: 'Mark the request as answered' })).toHaveCount(0)
  await page.getByLabel('Kind of message').selectOption('request_for_information')
  await page.getByRole('button', { name: 'Correct the kind' }).click()
  await expect(page.getByRole('status')).toHaveText('Saved: Request for further information · Open request.')
  await expect(page.getByRole('button', { name: 'Mark the request as answered' })).toBeVisible()

  // Unauthenticated and named by the case number only: the secretariat's until shared.
  await expect(page.getByText('Secretariat only', { exact: true })).toBeVisible()
  await page.getByRole('button', { name: "Share with the case's organizations" }).click()
  await expect(page.getByText('Secretariat only', { exact: true })).toHaveCount(0)
  await expect(page.getByRole('button', { name: 'Keep for the secretariat only' })).toBeVisible()

  // The acknowledgement: authenticated, with its attachment and its SHA-256.
  await page.getByRole('link', { name: 'Back to the case' }).click()
  await page.getByRole('link', { name: 'Case No. 3386 (Kyrgyzstan): acknowledgement of receipt' }).click()
  await expect(page.getByTestId('sender-warning')).toHaveCount(0)
  await page.getByText('Sender authentication (SPF, DKIM, DMARC)').click()
  await expect(page.getByTestId('auth-details')).toContainText('Sender authenticated')
  await expect(page.locator('code.hash')).toHaveText(/^[0-9a-f]{64}$/)
  const download = page.waitForEvent('download')
  await page.getByRole('link', { name: 'acknowledgement-3386.txt' }).click()
  const file = await download
  expect(file.suggestedFilename()).toBe('acknowledgement-3386.txt')
  expect(readFileSync((await file.path())!, 'utf8')).toContain('Communication of 30 August 2023')

  // On a 360 px phone, the thread and a message (its SHA-256 too) fit the screen.
  await page.setViewportSize({ width: 360, height: 740 })
  for (const what of ['message', 'thread']) {
    if (what === 'thread') await page.getByRole('link', { name: 'Back to the case' }).click()
    await page.waitForLoadState('networkidle')
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)
    expect(overflow, `the ${what} is wider than a 360 px phone`).toBeLessThanOrEqual(0)
  }
})

test('a secretariat member answers the request with a new draft, which says what it answers', async ({ page, baseURL }) => {
  const who = await drafter(baseURL!)
  await signInWithPassword(page, who)
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()

  // In French, the ILO's own words.
  await page.getByLabel('Language').selectOption('fr')
  await expect(page.getByLabel('Langue')).toBeVisible()
  await openCase(page, 'Cas', 'Cas no 3386 : Kyrgyzstan')
  const thread = page.getByTestId('correspondence')
  await expect(thread.getByRole('heading', { name: "Correspondance avec l'OIT" })).toBeVisible()
  await expect(thread.getByTestId('thread-message').nth(1)).toContainText("Demande d'informations complémentaires")
  await expect(thread.getByTestId('thread-message').nth(1)).toContainText('Expéditeur non authentifié')
  await page.getByLabel('Langue').selectOption('en')
  await expect(page.getByLabel('Language')).toBeVisible()

  await thread.getByRole('link', { name: 'Case No. 3386 (Kyrgyzstan): request for further information' }).click()
  await page.getByRole('link', { name: 'Answer with a new draft' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'New submission' })).toBeVisible()
  await expect(page.getByTestId('reply-note')).toContainText("Answers the ILO's message of")
  await expect(page.getByLabel('Case', { exact: true })).toBeDisabled()
  await page.getByLabel('Title', { exact: true }).fill('Answer to the request for further information (test)')
  await page.getByRole('button', { name: 'Start the draft' }).click()

  // The draft's editor and its page say which message it answers.
  await expect(page.getByTestId('reply-note')).toContainText("Answers the ILO's message of")
  await expect(page.getByTestId('reply-note')).toContainText('2023')
  await page.getByRole('link', { name: 'Done editing' }).click()
  await expect(page.getByRole('heading', { level: 1, name: 'Answer to the request for further information (test)' })).toBeVisible()
  await expect(page.getByTestId('reply-note')).toContainText("Answers the ILO's message of")
  await expect(page.getByTestId('correspondence').getByTestId('thread-message')).toHaveCount(2)
  await page.getByTestId('reply-note').getByRole('link', { name: 'Read the message' }).click()
  await expect(page.getByText('A draft answering this message was started.')).toBeVisible()
})

test('a tenant admin sets the mailbox: a wrong field is named, the password is stored and never shown', async ({ page }) => {
  await signIn(page, 'tenant_admin')
  await page.getByRole('link', { name: 'Administration' }).click()
  const mailbox = page.getByTestId('mailbox')
  await expect(mailbox.getByRole('heading', { name: "Mailbox for the ILO's answers" })).toBeVisible()
  await expect(mailbox.getByTestId('mailbox-status')).toContainText('never')
  await expect(mailbox.getByTestId('password-hint')).toHaveText('No password stored yet.')

  // No host: the field says what to enter, and what was typed stays.
  await mailbox.getByLabel('User name').fill('ilo-replies@industriall.example')
  await mailbox.getByLabel('Password or app password').fill('an app password')
  await mailbox.getByRole('button', { name: 'Save the mailbox settings' }).click()
  await expect(mailbox.getByText("Enter the server's host name, such as imap.example.org.")).toBeVisible()
  await expect(mailbox.getByLabel('IMAP server')).toHaveAttribute('aria-invalid', 'true')
  await expect(mailbox.getByLabel('Password or app password')).toHaveValue('an app password')

  await mailbox.getByLabel('IMAP server').fill('imap.example.org')
  await mailbox.getByRole('button', { name: 'Save the mailbox settings' }).click()
  await expect(mailbox.getByRole('status')).toHaveText('Mailbox settings saved.')
  await expect(mailbox.getByTestId('password-hint')).toContainText('A password is stored')
  await expect(mailbox.getByLabel('Password or app password')).toHaveValue('')
  await expect(mailbox.getByLabel('IMAP server')).not.toHaveAttribute('aria-invalid', 'true')
  await noSeriousViolations(page)
  await page.screenshot({ path: 'test-results/screens/mailbox.png', fullPage: true })

  // As stored: a reload shows the same settings, never the password.
  await page.reload()
  await expect(page.getByTestId('mailbox').getByLabel('IMAP server')).toHaveValue('imap.example.org')
  await expect(page.getByTestId('mailbox').getByTestId('password-hint')).toContainText('A password is stored')
})
