import { useEffect, useMemo, useState } from 'preact/hooks'
import { api, must, problemError } from '../api/client'
import { Autosaver, type Draft, type Saved, type Status } from '../autosave'
import { t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { Pending } from '../Pending'
import { Evidence } from './Evidence'
import { Markdown } from '../Markdown'
import { ReplyNote } from './Correspondence'

type Kind = 'complaint' | 'additional_information' | 'association' | 'follow_up'
const kinds: Kind[] = ['complaint', 'additional_information', 'association', 'follow_up']

/** backupKey is where unsaved text of a draft waits in the browser. */
const backupKey = (id: string) => 'unionportal.draft.' + id

function readBackup(id: string): Draft | null {
  try {
    const raw = localStorage.getItem(backupKey(id))
    return raw ? (JSON.parse(raw) as Draft) : null
  } catch {
    return null
  }
}

function writeBackup(id: string, d: Draft | null) {
  try {
    if (d) localStorage.setItem(backupKey(id), JSON.stringify(d))
    else localStorage.removeItem(backupKey(id))
  } catch {
    // no storage: the text lives in the page
  }
}

const fields = (v: Saved): Draft => ({ title: v.title, body: v.body, kind: v.kind, language: v.language })
const same = (a: Draft, b: Draft) => a.title === b.title && a.body === b.body && a.kind === b.kind && a.language === b.language

/** Editor edits a draft, saving as the user types (see autosave.ts). */
export function Editor({ tenant, id }: { tenant: string; id: string }) {
  useLocale()
  const [draft, setDraft] = useState<Draft | null>(null)
  const [status, setStatus] = useState<Status>({ state: 'saved', version: 0 })
  const [restored, setRestored] = useState(false)
  const [saver, setSaver] = useState<Autosaver | null>(null)
  const [error, setError] = useState('')
  // The message from the ILO this draft answers, if any.
  const [reply, setReply] = useState<{ caseID: string; itemID: string } | null>(null)
  const path = { tenant, id }

  const load = () => must(api.GET('/tenants/{tenant}/submissions/{id}', { params: { path } }))

  useEffect(() => {
    load()
      .then((v) => {
        const server: Saved = { ...fields(v as Saved), version: v.version }
        setReply(v.reply_to_item_id ? { caseID: v.case_id, itemID: v.reply_to_item_id } : null)
        const s = new Autosaver(server, {
          save: async (d, version) => {
            try {
              const { data, error, response } = await api.PATCH('/tenants/{tenant}/submissions/{id}', {
                params: { path, header: { 'If-Match': `"${version}"` } },
                body: { ...d, kind: d.kind as Kind },
              })
              if (response.ok && data) return { ok: true, saved: { ...fields(data as Saved), version: data.version } }
              if (response.status === 412) {
                const now = await load()
                return { ok: false, conflict: { ...fields(now as Saved), version: now.version } }
              }
              return { ok: false, error: problemError(response, error) }
            } catch (err) {
              return { ok: false, error: err }
            }
          },
          keep: (d) => writeBackup(id, d),
          onStatus: setStatus,
        })
        setSaver(s)
        setStatus({ state: 'saved', version: v.version })
        const backup = readBackup(id)
        if (backup && !same(backup, server)) {
          setDraft(backup)
          setRestored(true)
          s.change(backup)
        } else {
          writeBackup(id, null)
          setDraft(fields(server))
        }
      })
      .catch((err) => setError(errorText(err)))
  }, [tenant, id])

  const statusText = useMemo(() => {
    switch (status.state) {
      case 'saved':
        return t('editor.saved')
      case 'pending':
        return t('editor.pending')
      case 'saving':
        return t('editor.saving')
      case 'failed':
        return t('editor.failed')
      case 'conflict':
        return t('editor.conflict')
    }
  }, [status])

  if (!draft || !saver) {
    return <Pending error={error} loading="submission.loading" />
  }

  const update = (patch: Partial<Draft>) => {
    const next = { ...draft, ...patch }
    setDraft(next)
    saver.change(next)
  }

  return (
    <main id="main">
      <h1>{t('editor.edit')}</h1>
      {reply && <ReplyNote tenant={tenant} caseID={reply.caseID} itemID={reply.itemID} />}
      {restored && (
        <p class="notice" role="status">
          {t('editor.restored')}
        </p>
      )}
      <p class={status.state === 'failed' || status.state === 'conflict' ? 'error' : 'muted'} aria-live="polite" data-testid="save-status">
        {statusText}
      </p>
      {status.state === 'conflict' && (
        <section class="conflict" aria-label={t('editor.conflict')}>
          <div>
            <h2>{t('editor.mine')}</h2>
            <textarea readOnly rows={10} aria-label={t('editor.mine')} value={status.mine.body} />
            <button
              type="button"
              class="primary"
              onClick={() => {
                setDraft(status.mine)
                saver.resolve('mine', status.mine, status.theirs)
              }}
            >
              {t('editor.keepMine')}
            </button>
          </div>
          <div>
            <h2>{t('editor.theirs')}</h2>
            <textarea readOnly rows={10} aria-label={t('editor.theirs')} value={status.theirs.body} />
            <button
              type="button"
              onClick={() => {
                setDraft(fields(status.theirs))
                saver.resolve('theirs', status.mine, status.theirs)
              }}
            >
              {t('editor.takeTheirs')}
            </button>
          </div>
        </section>
      )}
      <form class="editor" onSubmit={(e) => e.preventDefault()}>
        <label for="title">{t('editor.title')}</label>
        <input id="title" aria-describedby="at-rest" value={draft.title} onInput={(e) => update({ title: e.currentTarget.value })} />
        <p id="at-rest" class="muted">
          {t('editor.atRest')}
        </p>
        <label for="kind">{t('editor.kind')}</label>
        <select id="kind" value={draft.kind} onChange={(e) => update({ kind: e.currentTarget.value })}>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {t(('kind.' + k) as MessageKey)}
            </option>
          ))}
        </select>
        <label for="language">{t('editor.language')}</label>
        <input id="language" value={draft.language} onInput={(e) => update({ language: e.currentTarget.value })} />
        <label for="body">{t('editor.body')}</label>
        <div class="write">
          <textarea id="body" rows={18} value={draft.body} onInput={(e) => update({ body: e.currentTarget.value })} />
          <div class="preview" aria-label={t('editor.preview')} data-testid="preview">
            <Markdown text={draft.body} />
          </div>
        </div>
        <Evidence tenant={tenant} id={id} />
        <a
          class="button"
          href={`/t/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(id)}`}
          onClick={async (e) => {
            e.preventDefault()
            await saver.flush()
            location.assign(`/t/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(id)}`)
          }}
        >
          {t('editor.done')}
        </a>
      </form>
    </main>
  )
}
