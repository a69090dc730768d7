import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { ReplyNote } from './Correspondence'

type Case = components['schemas']['Case']
type Kind = 'complaint' | 'additional_information' | 'association' | 'follow_up'
const kinds: Kind[] = ['additional_information', 'follow_up', 'complaint', 'association']

/** NewSubmission starts a draft for the user's organization, then opens its editor. With
 * replyTo (a message from the ILO, from the case caseID), the draft answers that message:
 * its case is that message's, and its dispatch replies in the message's e-mail thread. */
export function NewSubmission({
  tenant,
  caseID: initialCase,
  replyTo,
  onCreated,
}: {
  tenant: string
  caseID?: string
  replyTo?: string
  onCreated: (id: string) => void
}) {
  useLocale()
  const [cases, setCases] = useState<Case[] | null>(null)
  const [caseID, setCaseID] = useState('')
  const [kind, setKind] = useState<Kind>('additional_information')
  const [title, setTitle] = useState('')
  const [language, setLanguage] = useState(document.documentElement.lang || 'en')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    must(api.GET('/tenants/{tenant}/cases', { params: { path: { tenant }, query: { limit: 100 } } }))
      .then((l) => {
        setCases(l.items)
        const wanted = l.items.find((c) => c.id === initialCase)
        if (wanted || l.items[0]) setCaseID((wanted ?? l.items[0]).id)
      })
      .catch((e) => setError(errorText(e)))
  }, [tenant, initialCase])

  // Answering a message: the draft belongs to the message's case.
  const replying = !!replyTo && !!initialCase && caseID === initialCase

  async function create(e: Event) {
    e.preventDefault()
    setBusy(true)
    try {
      const v = await must(
        api.POST('/tenants/{tenant}/submissions', { params: { path: { tenant } }, body: { case_id: caseID, kind, title, body: '', language, ...(replying ? { in_reply_to: replyTo } : {}) } }),
      )
      onCreated(v.id)
    } catch (err) {
      setError(err instanceof ApiError && err.fields.length ? t('error.fields', { fields: err.fields.map((f) => `${f.field}: ${f.message}`).join('; ') }) : errorText(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" class="narrow">
      <h1>{t('new.title')}</h1>
      {cases?.length === 0 && <p>{t('new.noCases')}</p>}
      {replying && <ReplyNote tenant={tenant} caseID={initialCase!} itemID={replyTo!} />}
      <form onSubmit={create}>
        <label for="case">{t('new.case')}</label>
        <select id="case" value={caseID} disabled={!!replyTo && !!initialCase} onChange={(e) => setCaseID(e.currentTarget.value)}>
          {(cases ?? []).map((c) => (
            <option key={c.id} value={c.id}>
              {c.number ? t('new.caseNumber', { number: c.number, title: c.title }) : t('new.newComplaint', { title: c.title })}
            </option>
          ))}
        </select>
        <label for="kind">{t('editor.kind')}</label>
        <select id="kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {t(('kind.' + k) as MessageKey)}
            </option>
          ))}
        </select>
        <label for="title">{t('editor.title')}</label>
        <input id="title" aria-describedby="at-rest" value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        <p id="at-rest" class="muted">
          {t('editor.atRest')}
        </p>
        <label for="language">{t('editor.language')}</label>
        <input id="language" value={language} onInput={(e) => setLanguage(e.currentTarget.value)} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || !caseID}>
          {t('new.create')}
        </button>
      </form>
    </main>
  )
}
