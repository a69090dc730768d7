// A large evidence file goes with tus (ADR 0040), on a portal of this spec's own whose
// file limit (20 MiB) lets a file above the UI's 8 MiB threshold through: the first
// piece is cut off by a network error, and the upload continues by itself.
import { expect, test as base } from '@playwright/test'
import { createHash } from 'node:crypto'
import { signInWithPassword } from './helpers'
import { startPortal, type Portal } from './portal'

const test = base.extend<object, { portal: Portal }>({
  portal: [
    async ({}, use) => {
      const portal = await startPortal('localhost', { UNIONPORTAL_MAX_FILE_BYTES: String(20 << 20) })
      await use(portal)
      await portal.stop()
    },
    { scope: 'worker' },
  ],
  baseURL: async ({ portal }, use) => use(portal.url),
})

/** pdf is a PDF of size bytes. */
function pdf(size: number): Buffer {
  const head = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n'
  const tail = '\ntrailer << /Root 1 0 R >>\n%%EOF\n'
  return Buffer.concat([Buffer.from(head), Buffer.alloc(size - head.length - tail.length, 0x20), Buffer.from(tail)])
}

test('a large file is sent with tus and continues after a network error', async ({ page, portal }) => {
  await signInWithPassword(page, portal.logins.editor)
  await expect(page.getByRole('heading', { level: 1, name: 'Submissions' })).toBeVisible()
  await page.getByRole('link', { name: /Update on Case 3386/ }).click()
  await page.getByRole('link', { name: 'Edit' }).click()
  await expect(page.getByRole('heading', { level: 2, name: 'Evidence' })).toBeVisible()

  const seen: string[] = []
  let cut = false
  await page.route('**/uploads/*', async (route) => {
    const req = route.request()
    seen.push(`${req.method()} ${req.headers()['upload-offset'] ?? ''}`.trim())
    if (req.method() === 'PATCH' && !cut) {
      cut = true
      return route.abort('connectionreset')
    }
    return route.continue()
  })
  const file = pdf(9 << 20)
  await page.getByLabel('Add files').setInputFiles({ name: 'hearing recording transcript.pdf', mimeType: 'application/pdf', buffer: file })
  await expect(page.getByText('hearing recording transcript.pdf: uploaded.')).toBeVisible({ timeout: 30_000 })
  expect(seen[0]).toBe('PATCH 0') // cut
  expect(seen).toContain('HEAD') // asked where to continue
  expect(seen.filter((s) => s.startsWith('PATCH')).length).toBeGreaterThanOrEqual(2)

  // The attachment is the file.
  const sha = createHash('sha256').update(file).digest('hex')
  await expect(page.getByRole('button', { name: 'Remove hearing recording transcript.pdf' })).toBeVisible()
  const attachments = await page.evaluate(async () => {
    const m = location.pathname.match(/\/t\/([^/]+)\/submissions\/([^/]+)/)
    if (!m) return []
    const r = await fetch(`/api/v1/tenants/${m[1]}/submissions/${m[2]}/attachments`)
    return ((await r.json()).items as { file_name: string; sha256: string }[]).map((a) => `${a.file_name} ${a.sha256}`)
  })
  expect(attachments).toContain(`hearing recording transcript.pdf ${sha}`)
})
