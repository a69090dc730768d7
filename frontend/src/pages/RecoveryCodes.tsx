// Recovery codes are shown once: after the first factor, and when new ones are made. The
// page stays until the user says they saved them, and warns before it is left.
import { useEffect, useRef, useState } from 'preact/hooks'
import { t } from '../i18n'

/** codesFile is the text file of the codes, with what they are for. */
export function codesFile(codes: string[], host: string): string {
  return [t('recovery.fileTitle', { host }), '', ...codes, ''].join('\n')
}

export function RecoveryCodes({ codes, onSaved }: { codes: string[]; onSaved: () => void }) {
  const [saved, setSaved] = useState(false)
  const [copied, setCopied] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => {
    heading.current?.focus()
    // Leaving the page would lose them for good: the browser asks first.
    const warn = (e: BeforeUnloadEvent) => e.preventDefault()
    addEventListener('beforeunload', warn)
    return () => removeEventListener('beforeunload', warn)
  }, [])

  function download() {
    const url = URL.createObjectURL(new Blob([codesFile(codes, location.host)], { type: 'text/plain;charset=utf-8' }))
    const a = document.createElement('a')
    a.href = url
    a.download = `unionportal-recovery-codes-${location.hostname}.txt`
    document.body.append(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(url), 1000)
  }

  return (
    <section aria-labelledby="codes-title" class="codes-panel">
      <h2 id="codes-title" ref={heading} tabIndex={-1}>
        {t('recovery.title')}
      </h2>
      <p>{t('recovery.explain')}</p>
      <ol class="codes" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ol>
      <p class="actions">
        {navigator.clipboard && (
          <button
            type="button"
            onClick={async () => {
              await navigator.clipboard.writeText(codes.join('\n'))
              setCopied(true)
            }}
          >
            {t('recovery.copy')}
          </button>
        )}
        <button type="button" onClick={download}>
          {t('recovery.download')}
        </button>
        {copied && <span role="status">{t('tokens.copied')}</span>}
      </p>
      <label class="check">
        <input type="checkbox" checked={saved} onChange={(e) => setSaved(e.currentTarget.checked)} />
        {t('recovery.saved')}
      </label>
      <button type="button" class="primary" disabled={!saved} onClick={onSaved}>
        {t('recovery.done')}
      </button>
    </section>
  )
}
