// Markdown for reading in the browser: marked turns it into HTML and DOMPurify keeps
// only what a document needs. Both load on first use, so pages without Markdown do not
// carry them. Links go only to http, https and mailto, and open without a referrer;
// images are not shown (a submission's images are evidence files, not remote pictures).

let loaded: Promise<(text: string) => string> | null = null

function load() {
  loaded ??= Promise.all([import('marked'), import('dompurify')]).then(([{ marked }, { default: DOMPurify }]) => {
    const purify = DOMPurify(window)
    purify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A') {
        const href = node.getAttribute('href') ?? ''
        if (!/^(https?:|mailto:)/i.test(href)) node.removeAttribute('href')
        node.setAttribute('rel', 'noopener noreferrer')
        node.setAttribute('target', '_blank')
      }
    })
    return (text: string) =>
      purify.sanitize(marked.parse(text, { async: false, gfm: true, breaks: false }) as string, {
        ALLOWED_TAGS: ['p', 'br', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol', 'li', 'blockquote', 'pre', 'code', 'em', 'strong', 'del', 'a', 'hr', 'table', 'thead', 'tbody', 'tr', 'th', 'td'],
        ALLOWED_ATTR: ['href', 'rel', 'target'],
      })
  })
  return loaded
}

/** renderMarkdown returns safe HTML for text. */
export async function renderMarkdown(text: string): Promise<string> {
  return (await load())(text)
}
