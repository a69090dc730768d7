import { expect, test, type Page } from '@playwright/test'
import { signIn } from './helpers'
import AxeBuilder from '@axe-core/playwright'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

async function openTheUpdate(page: Page) {
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await expect(page.getByRole('heading', { level: 1, name: /Update on Case 3386/ })).toBeVisible()
}

test('the editor submits the draft; the reviewer requests changes with a comment; the editor reads it', async ({ browser }) => {
  const editor = await (await browser.newContext()).newPage()
  await signIn(editor, 'editor')
  await openTheUpdate(editor)
  await expect(editor.getByText('Draft', { exact: true })).toBeVisible()
  const serious = (await new AxeBuilder({ page: editor }).analyze()).violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(serious.map((v) => v.id)).toEqual([])
  await editor.screenshot({ path: 'test-results/screens/submission.png', fullPage: true })

  // Submitting asks first, and says what happened.
  await editor.getByRole('button', { name: 'Submit' }).click()
  const dialog = editor.getByRole('dialog', { name: 'Submit: please confirm' })
  await expect(dialog).toBeVisible()
  await dialog.getByRole('button', { name: 'Submit' }).click()
  await expect(editor.getByRole('status')).toHaveText('Submit: done.')
  await expect(editor.getByText('Submitted', { exact: true })).toBeVisible()

  // The reviewer must say why changes are needed.
  const reviewer = await (await browser.newContext()).newPage()
  await signIn(reviewer, 'reviewer')
  await openTheUpdate(reviewer)
  await reviewer.getByRole('button', { name: 'Request changes' }).click()
  const ask = reviewer.getByRole('dialog', { name: 'Request changes: please confirm' })
  await ask.getByRole('button', { name: 'Request changes' }).click()
  await expect(ask.getByRole('alert')).toHaveText('A comment is required: say why.')
  await ask.getByLabel('Say why (required)').fill('Please give the date of the arrest.')
  await ask.getByRole('button', { name: 'Request changes' }).click()
  await expect(reviewer.getByText('Changes requested', { exact: true })).toBeVisible()

  // An unsent comment survives a reload.
  await reviewer.getByLabel('Your comment').fill('Also attach the court decision.')
  await reviewer.reload()
  await expect(reviewer.getByLabel('Your comment')).toHaveValue('Also attach the court decision.')
  await reviewer.getByRole('button', { name: 'Add the comment' }).click()
  await expect(reviewer.getByLabel('Your comment')).toHaveValue('')

  await editor.reload()
  await expect(editor.getByText('Changes requested', { exact: true })).toBeVisible()
  await expect(editor.getByText('Please give the date of the arrest.')).toBeVisible()
  await expect(editor.getByText('Also attach the court decision.')).toBeVisible()

  // The editor revises the text (saved as typed) and submits again.
  await editor.getByRole('link', { name: 'Edit' }).click()
  const body = editor.getByLabel('Text (Markdown)')
  const saved = editor.waitForResponse((r) => r.request().method() === 'PATCH' && r.ok())
  await body.fill((await body.inputValue()) + '\n\nThe arrest took place on 3 May 2023.')
  await saved
  await expect(editor.getByTestId('save-status')).toHaveText('All changes saved.')
  await editor.getByRole('link', { name: 'Done editing' }).click()
  await editor.getByRole('button', { name: 'Submit' }).click()
  await editor.getByRole('dialog').getByRole('button', { name: 'Submit' }).click()
  await expect(editor.getByText('Submitted', { exact: true })).toBeVisible()

  // The reviewer compares the revisions: the new sentence is marked as added.
  await reviewer.reload()
  await reviewer.getByRole('button', { name: 'Compare' }).click()
  await expect(reviewer.getByTestId('diff').locator('ins')).toContainText('3 May 2023')
  await reviewer.screenshot({ path: 'test-results/screens/diff.png', fullPage: true })

  await expect(reviewer.getByTestId('receivability')).toContainText('Ready: every check passes')
  // Approval, with the keyboard only: the dialog says where the letter goes.
  await expect(reviewer.getByTestId('sandbox-banner')).toContainText('Test mode')
  await tabTo(reviewer, 'Approve')
  await reviewer.keyboard.press('Enter')
  const approve = reviewer.getByRole('dialog', { name: 'Approve: please confirm' })
  await expect(approve).toContainText('Test mode: the letter will go only to')
  const preview = approve.getByRole('link', { name: 'Read the letter first (PDF)' })
  await expect(preview).toBeVisible()
  const pdf = await reviewer.request.get((await preview.getAttribute('href'))!)
  expect(pdf.headers()['content-type']).toBe('application/pdf')
  expect((await pdf.body()).subarray(0, 5).toString()).toBe('%PDF-')
  await tabTo(reviewer, 'Approve', approve)
  await reviewer.keyboard.press('Enter')

  // The page follows the dispatch until the letter is sent.
  await expect(reviewer.getByText('Dispatched to the ILO', { exact: true })).toBeVisible({ timeout: 30_000 })
  await expect(reviewer.getByTestId('dispatch')).toContainText('accepted')
  await expect(reviewer.getByRole('link', { name: 'The letter as sent' })).toBeVisible()
  await reviewer.screenshot({ path: 'test-results/screens/dispatched.png', fullPage: true })
  const outbox = join(process.env.UNIONPORTAL_E2E_DATA ?? '', 'outbox')
  const letters = readdirSync(outbox).filter((f) => f.startsWith('dispatch-'))
  expect(letters).toHaveLength(1)
  expect(readFileSync(join(outbox, letters[0]), 'utf8')).toContain('Case No. 3386')
})

/** tabTo presses Tab until the focused element is the control named name (within scope). */
async function tabTo(page: Page, name: string, scope?: ReturnType<Page['getByRole']>) {
  const target = (scope ?? page).getByRole('button', { name, exact: true })
  for (let i = 0; i < 60; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return
    await page.keyboard.press('Tab')
  }
  throw new Error(`Tab never reached the ${name} button`)
}
