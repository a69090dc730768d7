// Shared steps of the browser tests.
import { expect, request, type Page } from '@playwright/test'
import AxeBuilder from '@axe-core/playwright'

/** The demo's logins by role, from the global setup. */
export const logins = JSON.parse(process.env.UNIONPORTAL_E2E_LOGINS ?? '{}') as Record<string, { email: string; password: string }>

/** signIn signs in as the demo user of role and waits for the home page. */
export async function signIn(page: Page, role: string) {
  await signInWithPassword(page, logins[role])
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
}

/** signInWithPassword gives the first step of a sign-in: e-mail address and password. */
export async function signInWithPassword(page: Page, who: { email: string; password: string }) {
  await page.goto('/')
  await page.getByLabel('E-mail address').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
}

/** newMember has the demo's tenant admin invite a new editor of the affiliate, through
 * the API; the account is theirs at their first sign-in. Tests that give an account a
 * second factor use one, so that the demo's logins stay as other tests expect them. */
export async function newMember(baseURL: string, admin: { email: string; password: string }, label: string) {
  const api = await request.newContext({ baseURL })
  try {
    const login = await api.post('/api/v1/auth/login', { data: admin })
    expect(login.status()).toBe(200)
    const csrf = (await login.json()).csrf_token as string
    const orgs = (await (await api.get('/api/v1/tenants/industriall/organizations')).json()).items as { id: string; kind: string }[]
    const who = { email: `${label}.${Date.now()}@mmtuk.example`, password: `a long passphrase for ${label} ${Date.now()}` }
    const r = await api.post('/api/v1/tenants/industriall/users', {
      headers: { 'X-CSRF-Token': csrf },
      data: { ...who, name: `${label} (test)`, organization_id: orgs.find((o) => o.kind === 'affiliate')!.id, roles: ['editor'] },
    })
    expect(r.status(), await r.text()).toBe(201)
    return who
  } finally {
    await api.dispose()
  }
}

/** stepUpWindowEnds waits until the session's last factor (or password) is too old for
 * acts that matter, as /me says. */
export async function stepUpWindowEnds(page: Page, timeout = 30_000) {
  await expect
    .poll(
      async () => {
        const until = (await (await page.request.get('/api/v1/me')).json()).second_factor.step_up_until as string | null
        return !until || Date.parse(until) <= Date.now()
      },
      { timeout, intervals: [1000] },
    )
    .toBe(true)
}

/** noSeriousViolations runs axe-core (WCAG 2.2 AA) and fails on serious or critical findings. */
export async function noSeriousViolations(page: Page) {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']).analyze()
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([])
}
