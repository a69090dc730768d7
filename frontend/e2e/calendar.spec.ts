import { expect, test } from '@playwright/test'
import { signIn } from './helpers'

const day = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10)

test('CFA calendar: a tenant admin enters a session, cases and the home screen show the deadline, deleting asks first', async ({ page }) => {
  await signIn(page, 'tenant_admin')
  await page.getByRole('link', { name: 'Administration' }).click()
  const calendar = page.getByTestId('cfa-calendar')
  await expect(calendar.getByRole('heading', { name: /CFA calendar/ })).toBeVisible()

  // A deadline after the session's first day is refused, naming the field.
  await calendar.getByLabel('Session (such as 410th Session)').fill('410th Session')
  await calendar.getByLabel('First day of the session').fill(day(20))
  await calendar.getByLabel('Information must reach the Office by').fill(day(21))
  await calendar.getByRole('button', { name: 'Add the session' }).click()
  await expect(calendar.getByText('The information deadline cannot be after the first day of the session.')).toBeVisible()

  await calendar.getByLabel('Information must reach the Office by').fill(day(10))
  await calendar.getByRole('button', { name: 'Add the session' }).click()
  await expect(calendar.getByText('Session saved.')).toBeVisible()
  await expect(calendar.getByRole('cell', { name: '410th Session', exact: true })).toBeVisible()
  await page.screenshot({ path: 'test-results/screens/cfa-calendar.png', fullPage: true })

  // The home screen says what is due, with the days left.
  await page.getByRole('link', { name: 'Home' }).click()
  const due = page.getByTestId('due')
  await expect(due.getByRole('heading', { name: 'Due before the next deadline' })).toBeVisible()
  await expect(due).toContainText('410th Session')
  await expect(due).toContainText('in 10 days')
  // The demo's open request for further information from the ILO is due too.
  const requests = due.getByTestId('due-requests')
  await expect(due.getByRole('heading', { name: 'Requests for further information from the ILO, still open' })).toBeVisible()
  await expect(requests).toContainText('Case 3386')
  await requests.getByRole('link').first().click()
  await expect(page.getByText('Request for further information').first()).toBeVisible()
  await page.goBack()

  // Cases show the next deadline.
  await page.getByRole('link', { name: 'Cases' }).click()
  await expect(page.getByTestId('next-deadline').first()).toContainText('Next information deadline: 410th Session')

  // Deleting asks first; declining keeps the session.
  await page.getByRole('link', { name: 'Administration' }).click()
  page.once('dialog', (d) => void d.dismiss())
  await calendar.getByRole('button', { name: 'Delete 410th Session' }).click()
  await expect(calendar.getByRole('cell', { name: '410th Session', exact: true })).toBeVisible()
  page.once('dialog', (d) => void d.accept())
  await calendar.getByRole('button', { name: 'Delete 410th Session' }).click()
  await expect(calendar.getByText('Session deleted.')).toBeVisible()
  await expect(calendar.getByText('No session entered yet.')).toBeVisible()
})
