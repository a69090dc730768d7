import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, known, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { Pending } from '../Pending'
import { Markdown } from '../Markdown'
import { Dispatches, Receivability, Revisions, useSettings, type Settings } from './SubmissionPanels'
import { CorrespondenceThread, ReplyNote } from './Correspondence'
import { Feedback } from '../Feedback'

type View = components['schemas']['SubmissionView']
type Comment = components['schemas']['Comment']
type AuditEvent = components['schemas']['Event']

// Acts that cannot be undone ask for confirmation (GLOSSARY: interface conventions).
const needsComment = new Set(['request_changes', 'reject'])

/** actionError says why an action was refused, in the user's language. */
export function actionError(err: unknown): string {
  if (!(err instanceof ApiError)) return errorText(err)
  switch (err.code) {
    case 'invalid_transition':
    case 'forbidden':
    case 'author_cannot_approve':
    case 'author_cannot_sign':
      return t(('error.' + err.code) as MessageKey)
    case 'not_receivable':
      return t('error.not_receivable', { checks: err.fields.map((f) => f.message).join('; ') })
    case 'validation_failed':
      if (err.fields.some((f) => f.field === 'comment')) return t('error.commentRequired')
  }
  return errorText(err)
}

/** draftKey is where an unsent comment waits, so that a reload does not lose it. */
const draftKey = (id: string) => 'unionportal.comment.' + id

function remembered(key: string): string {
  try {
    return localStorage.getItem(key) ?? ''
  } catch {
    return ''
  }
}

function remember(key: string, text: string) {
  try {
    if (text) localStorage.setItem(key, text)
    else localStorage.removeItem(key)
  } catch {
    // no storage: the text lives as long as the page
  }
}

export function Submission({ tenant, id }: { tenant: string; id: string }) {
  useLocale()
  const [view, setView] = useState<View | null>(null)
  const [comments, setComments] = useState<Comment[]>([])
  const [events, setEvents] = useState<AuditEvent[]>([])
  const [error, setError] = useState('')
  const [status, setStatus] = useState('')
  const [pending, setPending] = useState<components['schemas']['Action'] | null>(null)
  const settings = useSettings(tenant)
  const path = { tenant, id }

  async function reload() {
    try {
      const [v, c, e] = await Promise.all([
        must(api.GET('/tenants/{tenant}/submissions/{id}', { params: { path } })),
        must(api.GET('/tenants/{tenant}/submissions/{id}/comments', { params: { path } })),
        must(api.GET('/tenants/{tenant}/submissions/{id}/events', { params: { path } })).catch(() => ({ items: [] as AuditEvent[] })),
      ])
      setView(v)
      setComments(c.items)
      setEvents(e.items)
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? t('submission.notFound') : errorText(err))
    }
  }
  useEffect(() => {
    reload()
  }, [tenant, id])

  if (!view) {
    return <Pending error={error} loading="submission.loading" />
  }

  return (
    <main id="main">
      <p>
        <a href="/">{t('submission.back')}</a>
      </p>
      <h1>{view.title || t('submission.shreddedTitle')}</h1>
      <p>
        <span class={'state state-' + view.state}>{t(('state.' + view.state) as MessageKey)}</span>{' '}
        <span class="muted">
          {t(('kind.' + view.kind) as MessageKey)}
          {view.revision > 0 && <> · {t('submission.revision', { number: view.revision })}</>}
          {(view.state === 'submitted' || view.state === 'in_review') && (
            <> · {t('submission.approvals', { count: view.approvals, required: view.required_approvals })}</>
          )}
        </span>
      </p>
      {view.reply_to_item_id && <ReplyNote tenant={tenant} caseID={view.case_id} itemID={view.reply_to_item_id} />}
      {view.shredded_at && (
        <p class="notice" data-testid="shredded">
          {t('submission.shredded', { date: formatDate(view.shredded_at) })}
        </p>
      )}
      {settings?.dispatch.sandbox && (
        <p class="banner" data-testid="sandbox-banner">
          {t('sandbox.banner', { address: settings.dispatch.sandbox_recipient || '—' })}
        </p>
      )}
      <Feedback status={status} error={error} />
      {view.capabilities.edit && (
        <p>
          <a class="button" href={`/t/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(id)}/edit`}>
            {t('editor.edit')}
          </a>
        </p>
      )}
      {view.allowed_actions.length > 0 && (
        <section aria-labelledby="actions">
          <h2 id="actions">{t('submission.actions')}</h2>
          <div class="actions">
            {view.allowed_actions.map((a, i) => (
              <button key={a} type="button" class={i === 0 ? 'primary' : ''} onClick={() => setPending(a)}>
                {t(('action.' + a) as MessageKey)}
              </button>
            ))}
          </div>
        </section>
      )}
      {view.allowed_actions.includes('approve') && <Receivability tenant={tenant} id={id} version={view.version} />}
      <section aria-labelledby="text">
        <h2 id="text">{t('submission.body')}</h2>
        <Markdown text={view.body} />
        <p>
          <a href={`/api/v1/tenants/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(id)}/letter.pdf`} download>
            {t('submission.letter')}
          </a>
        </p>
      </section>
      <Revisions tenant={tenant} id={id} revision={view.revision} />
      <Dispatches
        tenant={tenant}
        id={id}
        state={view.state}
        onSettled={() => {
          void reload()
        }}
      />
      <CorrespondenceThread tenant={tenant} caseID={view.case_id} hideEmpty />
      <Comments tenant={tenant} id={id} comments={comments} canComment={view.capabilities.comment} onAdded={reload} />
      {events.length > 0 && (
        <section aria-labelledby="timeline">
          <h2 id="timeline">{t('submission.timeline')}</h2>
          <ol class="timeline">
            {events.map((e) => (
              <li key={e.id}>
                <time dateTime={e.created_at}>{formatDate(e.created_at)}</time> {known('event.' + e.action) ? t(('event.' + e.action) as MessageKey) : e.action}
              </li>
            ))}
          </ol>
        </section>
      )}
      {pending && (
        <Confirm
          action={pending}
          settings={settings}
          letter={`/api/v1/tenants/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(id)}/letter.pdf`}
          onCancel={() => setPending(null)}
          onConfirm={async (comment) => {
            await must(api.POST('/tenants/{tenant}/submissions/{id}/transitions', { params: { path }, body: { action: pending, comment } }))
            setPending(null)
            setError('')
            setStatus(t('confirm.done', { action: t(('action.' + pending) as MessageKey) }))
            await reload()
          }}
          onRefused={async () => {
            await reload()
          }}
        />
      )}
    </main>
  )
}

/** Confirm asks before an action, with its comment; it keeps the dialog open on a refusal. */
// Acts that send a letter show where it goes before they are confirmed.
const sends = new Set(['approve', 'sign', 'resend'])

function Confirm({
  action,
  settings,
  letter,
  onCancel,
  onConfirm,
  onRefused,
}: {
  action: string
  settings: Settings | null
  letter: string
  onCancel: () => void
  onConfirm: (comment: string) => Promise<void>
  onRefused: () => Promise<void>
}) {
  const ref = useRef<HTMLDialogElement>(null)
  const [comment, setComment] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const required = needsComment.has(action)
  const name = t(('action.' + action) as MessageKey)

  useEffect(() => {
    ref.current?.showModal()
  }, [])

  async function confirm(e: Event) {
    e.preventDefault()
    if (required && !comment.trim()) {
      setError(t('error.commentRequired'))
      return
    }
    setBusy(true)
    try {
      await onConfirm(comment)
    } catch (err) {
      setError(actionError(err))
      await onRefused()
    } finally {
      setBusy(false)
    }
  }

  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={onCancel} class="confirm">
      <form method="dialog" onSubmit={confirm}>
        <h2 id="confirm-title">{t('confirm.title', { action: name })}</h2>
        <p>{t('confirm.irreversible')}</p>
        {sends.has(action) && settings && (
          <div class="sends">
            {settings.dispatch.sandbox ? (
              <p class="banner">{t('confirm.sandboxTo', { address: settings.dispatch.sandbox_recipient || '—' })}</p>
            ) : (
              <>
                <p>{t('confirm.sendsTo')}</p>
                <ul>
                  {settings.dispatch.recipients.map((r) => (
                    <li key={r.address + r.kind}>
                      {r.name} &lt;{r.address}&gt; ({r.kind})
                    </li>
                  ))}
                </ul>
              </>
            )}
            <p>
              <a href={letter} target="_blank" rel="noopener">
                {t('confirm.preview')}
              </a>
            </p>
          </div>
        )}
        <label for="confirm-comment">{required ? t('confirm.commentRequired') : t('confirm.commentOptional')}</label>
        <textarea id="confirm-comment" rows={4} value={comment} aria-required={required} onInput={(e) => setComment(e.currentTarget.value)} />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {name}
          </button>
          <button type="button" onClick={onCancel}>
            {t('confirm.cancel')}
          </button>
        </div>
      </form>
    </dialog>
  )
}

function Comments({
  tenant,
  id,
  comments,
  canComment,
  onAdded,
}: {
  tenant: string
  id: string
  comments: Comment[]
  canComment: boolean
  onAdded: () => Promise<void>
}) {
  const key = draftKey(id)
  const [text, setText] = useState(() => remembered(key))
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function add(e: Event) {
    e.preventDefault()
    if (!text.trim()) return
    setBusy(true)
    try {
      await must(api.POST('/tenants/{tenant}/submissions/{id}/comments', { params: { path: { tenant, id } }, body: { body: text } }))
      setText('')
      remember(key, '')
      setError('')
      await onAdded()
    } catch (err) {
      setError(errorText(err)) // the text stays in the box and in storage
    } finally {
      setBusy(false)
    }
  }

  return (
    <section aria-labelledby="comments">
      <h2 id="comments">{t('submission.comments')}</h2>
      {comments.length === 0 ? (
        <p class="muted">{t('submission.noComments')}</p>
      ) : (
        <ol class="comments">
          {comments.map((c) => (
            <li key={c.id}>
              <time dateTime={c.created_at}>{formatDate(c.created_at)}</time>
              <div class="body">{c.body}</div>
            </li>
          ))}
        </ol>
      )}
      {canComment && (
        <form onSubmit={add}>
          <label for="new-comment">{t('submission.comment')}</label>
          <textarea
            id="new-comment"
            rows={3}
            value={text}
            onInput={(e) => {
              setText(e.currentTarget.value)
              remember(key, e.currentTarget.value)
            }}
          />
          {error && (
            <p class="error" role="alert">
              {error}
            </p>
          )}
          <button type="submit" disabled={busy || !text.trim()}>
            {t('submission.addComment')}
          </button>
        </form>
      )}
    </section>
  )
}
