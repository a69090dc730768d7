// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { renderMarkdown } from './markdown'

describe('renderMarkdown', () => {
  it('renders Markdown and keeps nothing that runs or leaks', async () => {
    const html = await renderMarkdown(
      '# Events\n\n**Arrested** on 3 May. <script>alert(1)</script><img src=x onerror="alert(2)">\n\n' +
        '[NORMLEX](https://normlex.ilo.org) [bad](javascript:alert(3)) <a href="file:///etc/passwd">f</a> <mailto:cfa@ilo.org>',
    )
    expect(html).toContain('<h1>Events</h1>')
    expect(html).toContain('<strong>Arrested</strong>')
    expect(html).not.toMatch(/<script|onerror|<img|javascript:|file:/i)
    expect(html).toContain('href="https://normlex.ilo.org"')
    expect(html).toContain('rel="noopener noreferrer"')
    expect(html).toContain('href="mailto:cfa@ilo.org"')
  })
})
