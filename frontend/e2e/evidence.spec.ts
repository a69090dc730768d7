import { expect, test } from '@playwright/test'
import { signIn } from './helpers'

/** pdf is a small valid-looking PDF of about size bytes. */
function pdf(size: number): Buffer {
  const head = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'
  const tail = '\ntrailer << /Root 1 0 R >>\n%%EOF\n'
  return Buffer.concat([Buffer.from(head), Buffer.alloc(Math.max(0, size - head.length - tail.length), 0x20), Buffer.from(tail)])
}

test('evidence: a PDF uploads with its progress shown; a file over the limit is refused readably', async ({ page }) => {
  await signIn(page, 'editor')
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await page.getByRole('link', { name: 'Edit' }).click()
  await expect(page.getByRole('heading', { level: 2, name: 'Evidence' })).toBeVisible()

  // Slow the upload down, so that its progress can be seen.
  await page.route('**/attachments', async (route) => {
    await new Promise((r) => setTimeout(r, 800))
    await route.continue()
  })
  await page.getByLabel('Add files').setInputFiles({ name: 'court decision.pdf', mimeType: 'application/pdf', buffer: pdf(200_000) })
  await expect(page.getByRole('progressbar')).toBeVisible()
  await expect(page.getByText('court decision.pdf: uploaded.')).toBeVisible()
  await expect(page.getByRole('button', { name: 'Remove court decision.pdf' })).toBeVisible()

  await page.getByLabel('Add files').setInputFiles({ name: 'scan.pdf', mimeType: 'application/pdf', buffer: pdf(3 << 20) })
  await expect(page.getByRole('alert')).toHaveText('scan.pdf is too large: files may be at most 2 MB.')
  await page.screenshot({ path: 'test-results/screens/evidence.png', fullPage: true })
})
