import { useEffect, useState } from 'preact/hooks'
import { renderMarkdown } from './markdown'

/** Markdown shows text rendered and sanitised; until the renderer has loaded, as plain text. */
export function Markdown({ text, class: cls = 'body' }: { text: string; class?: string }) {
  const [html, setHtml] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    renderMarkdown(text)
      .then((h) => live && setHtml(h))
      .catch(() => live && setHtml(null))
    return () => {
      live = false
    }
  }, [text])
  if (html === null) return <div class={cls}>{text}</div>
  return <div class={cls + ' markdown'} dangerouslySetInnerHTML={{ __html: html }} />
}
