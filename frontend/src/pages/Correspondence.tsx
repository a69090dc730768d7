// The ILO's correspondence (ADR 0036): a case's thread of letters sent and messages
// received, one message with its text and attachments, and the note on a draft that
// answers one.
import { Fragment } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import { formatDate, t, useLocale } from '../i18n'
import { errorText } from '../errors'
import { Pending } from '../Pending'
import { useSession } from '../session'
import { checks, kindKey, kinds, messageDate, threadRows, trustKey, type Item, type Kind, type Row } from '../correspondence'
import { formatSize } from './Evidence'
import { Feedback } from '../Feedback'

/** useRoles gives the signed-in user's roles in the tenant. */
export function useRoles(tenant: string): string[] {
  const s = useSession()
  if (s.status !== 'signedIn') return []
  return s.me.memberships?.find((m) => m.tenant.slug === tenant)?.roles ?? []
}

const esc = encodeURIComponent
const messageHref = (tenant: string, id: string) => `/t/${esc(tenant)}/correspondence/${esc(id)}`
const answerHref = (tenant: string, caseID: string, itemID: string) => `/t/${esc(tenant)}/new?case=${esc(caseID)}&reply=${esc(itemID)}`

/** useThread loads a case's thread (null while loading); reload reads it again. */
function useThread(tenant: string, caseID: string | undefined) {
  const [rows, setRows] = useState<Row[] | null>(null)
  const [error, setError] = useState('')
  const load = () => {
    if (!caseID) return Promise.resolve()
    return must(api.GET('/tenants/{tenant}/cases/{id}/correspondence', { params: { path: { tenant, id: caseID } } }))
      .then((l) => {
        setRows(threadRows(l.items))
        setError('')
      })
      .catch((e) => setError(errorText(e)))
  }
  useEffect(() => {
    void load()
  }, [tenant, caseID])
  return { rows, error, reload: load }
}

/** CorrespondenceThread is a case's correspondence with the ILO, oldest first. On a
 * submission's page (hideEmpty) it shows nothing while there is none. */
export function CorrespondenceThread({ tenant, caseID, hideEmpty = false }: { tenant: string; caseID: string; hideEmpty?: boolean }) {
  useLocale()
  const roles = useRoles(tenant)
  const { rows, error, reload } = useThread(tenant, caseID)
  const [status, setStatus] = useState('')
  const [checkError, setCheckError] = useState('')
  if (hideEmpty && (!rows || rows.length === 0)) return null

  async function checkNow() {
    setStatus('')
    setCheckError('')
    try {
      await must(api.POST('/tenants/{tenant}/mailbox/poll', { params: { path: { tenant } } }))
      setStatus(t('corr.checkRequested'))
      setTimeout(() => void reload(), 4000)
    } catch (err) {
      setCheckError(err instanceof ApiError && err.code === 'mailbox_disabled' ? t('corr.error.mailbox_disabled') : errorText(err))
    }
  }

  return (
    <section aria-labelledby="correspondence" id="correspondence-section" data-testid="correspondence">
      <h2 id="correspondence">{t('corr.title')}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {rows?.length === 0 && <p>{t('corr.none')}</p>}
      <ol class="thread">
        {(rows ?? []).map((r) =>
          r.type === 'dispatch' ? (
            <li key={'d' + r.id} class="letter" data-testid="thread-letter">
              <strong>{t('corr.letterSent')}</strong> <time dateTime={r.at}>{formatDate(r.at)}</time> · {t(r.stateKey)}
              {r.dispatch.sandbox && <span class="muted"> ({t('dispatch.test')})</span>}
            </li>
          ) : (
            <li key={'m' + r.id} class={r.warning ? 'message suspect' : 'message'} data-testid="thread-message">
              <span class="kind">{t(r.kindKey)}</span>
              {r.warning && <span class="badge warn">⚠ {t('corr.warning.badge')}</span>}
              {r.open && <span class="badge open">{t('corr.open')}</span>}
              {r.item.status === 'answered' && <span class="badge done">{t('corr.answered')}</span>}
              <a class="subject" href={messageHref(tenant, r.id)}>
                {r.item.subject || t('corr.noSubject')}
              </a>
              <span class="meta">
                {t('corr.from')}: {r.item.from_name ? `${r.item.from_name} <${r.item.from_address}>` : r.item.from_address} ·{' '}
                <time dateTime={r.date}>{formatDate(r.date)}</time>
                {r.files > 0 && <> · {t('corr.attachments', { count: r.files })}</>}
              </span>
            </li>
          ),
        )}
      </ol>
      {roles.includes('reviewer') && !hideEmpty && (
        <p>
          <button type="button" onClick={() => void checkNow()}>
            {t('corr.checkNow')}
          </button>
        </p>
      )}
      {status && (
        <p class="notice" role="status">
          {status}
        </p>
      )}
      {checkError && (
        <p class="error" role="alert">
          {checkError}
        </p>
      )}
    </section>
  )
}

/** CorrespondenceMessage is one message from the ILO: its text (as plain text), its
 * attachments with their SHA-256, how its sender was checked, and, for reviewers, the
 * corrections; for those who write drafts, an answer. */
export function CorrespondenceMessage({ tenant, id }: { tenant: string; id: string }) {
  useLocale()
  const roles = useRoles(tenant)
  const [it, setIt] = useState<Item | null>(null)
  const [kind, setKind] = useState<Kind>('other')
  const [error, setError] = useState('')
  const [status, setStatus] = useState('')
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    must(api.GET('/tenants/{tenant}/correspondence/{id}', { params: { path: { tenant, id } } }))
      .then((v) => {
        setIt(v)
        setKind(v.kind)
      })
      .catch((e) => setError(e instanceof ApiError && e.status === 404 ? t('corr.notFound') : errorText(e)))
  }, [tenant, id])

  if (!it) return <Pending error={error} loading="corr.loading" />

  async function update(body: { kind?: Kind; status?: Item['status']; shared?: boolean }) {
    setBusy(true)
    setStatus('')
    setError('')
    try {
      const v = await must(api.PATCH('/tenants/{tenant}/correspondence/{id}', { params: { path: { tenant, id } }, body }))
      setIt(v)
      setKind(v.kind)
      setStatus(t('corr.review.saved', { kind: t(kindKey(v.kind)) + (v.status === 'open' ? ' · ' + t('corr.open') : v.status === 'answered' ? ' · ' + t('corr.answered') : '') }))
    } catch (err) {
      setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  const base = `/api/v1/tenants/${esc(tenant)}/correspondence/${esc(it.id)}/files/`
  const isRequest = it.kind === 'request_for_information'
  return (
    <main id="main">
      <p>
        <a href={`/t/${esc(tenant)}/cases/${esc(it.case_id)}`}>{t('corr.back')}</a>
      </p>
      <h1>{it.subject || t('corr.noSubject')}</h1>
      {it.sender_warning && (
        <p class="banner warning" data-testid="sender-warning">
          ⚠ {t('corr.warning.text')}
        </p>
      )}
      <p>
        <span class="kind">{t(kindKey(it.kind))}</span>
        {it.status === 'open' && <span class="badge open">{t('corr.open')}</span>}
        {it.status === 'answered' && <span class="badge done">{t('corr.answered')}</span>}
        {!it.shared && <span class="badge">{t('corr.secretariatOnly')}</span>}
      </p>
      <dl class="facts">
        <dt>{t('corr.from')}</dt>
        <dd>{it.from_name ? `${it.from_name} <${it.from_address}>` : it.from_address}</dd>
        <dt>{t('corr.date')}</dt>
        <dd>{formatDate(messageDate(it))}</dd>
        <dt>{t('corr.received')}</dt>
        <dd>{formatDate(it.received_at)}</dd>
        <dt>{t('corr.matchedBy')}</dt>
        <dd>{t(it.matched_by === 'thread' ? 'corr.matched.thread' : 'corr.matched.case_number')}</dd>
      </dl>
      <Feedback status={status} error={error} />
      <section aria-labelledby="message-text">
        <h2 id="message-text">{t('corr.text')}</h2>
        {/* Plain text, never HTML: Preact writes it as a text node; the CSS keeps its line breaks. */}
        {it.body ? <div class="body" data-testid="message-body">{it.body}</div> : <p class="muted">{t('corr.noText')}</p>}
      </section>
      <section aria-labelledby="message-files">
        <h2 id="message-files">{t('corr.files')}</h2>
        {it.files.length === 0 ? (
          <p class="muted">{t('corr.noFiles')}</p>
        ) : (
          <ul class="files">
            {it.files.map((f) => (
              <li key={f.id}>
                <a href={base + esc(f.id)} download={f.file_name}>
                  {f.file_name}
                </a>{' '}
                <span class="muted">{formatSize(f.size)}</span>
                <br />
                <span class="muted">SHA-256:</span> <code class="hash">{f.sha256}</code>
              </li>
            ))}
          </ul>
        )}
      </section>
      <details class="auth" data-testid="auth-details">
        <summary>{t('corr.auth.title')}</summary>
        <p>
          <strong>{t(trustKey(it))}</strong>
        </p>
        <p class="muted">{t(it.auth_source === 'trusted_header' ? 'corr.auth.trusted_header' : 'corr.auth.verified')}</p>
        <dl class="facts">
          {checks(it).map((c) => (
            <Fragment key={c.name}>
              <dt>
                {c.name}: <span class={c.passed ? 'pass' : 'fail'}>{t(c.resultKey, { result: c.result })}</span>
              </dt>
              <dd>{t(c.explainKey)}</dd>
            </Fragment>
          ))}
        </dl>
      </details>
      {it.answered_by && (
        <p>
          {t('corr.answer.started')} <a href={`/t/${esc(tenant)}/submissions/${esc(it.answered_by)}`}>{t('corr.answer.open')}</a>
        </p>
      )}
      {roles.includes('editor') && (
        <p>
          <a class="button" href={answerHref(tenant, it.case_id, it.id)}>
            {t('corr.answer')}
          </a>
        </p>
      )}
      {roles.includes('reviewer') && (
        <section aria-labelledby="message-review">
          <h2 id="message-review">{t('corr.review.title')}</h2>
          <form
            class="inline"
            onSubmit={(e) => {
              e.preventDefault()
              void update({ kind })
            }}
          >
            <label>
              {t('corr.kind')}{' '}
              <select value={kind} onChange={(e) => setKind(e.currentTarget.value as Kind)}>
                {kinds.map((k) => (
                  <option key={k} value={k}>
                    {t(kindKey(k))}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit" disabled={busy || kind === it.kind}>
              {t('corr.review.saveKind')}
            </button>
          </form>
          <p>
            {it.shared ? (
              <button type="button" disabled={busy} onClick={() => void update({ shared: false })}>
                {t('corr.review.unshare')}
              </button>
            ) : (
              <button type="button" disabled={busy} onClick={() => void update({ shared: true })}>
                {t('corr.review.share')}
              </button>
            )}{' '}
            <span class="muted">{t('corr.review.shareHelp')}</span>
          </p>
          {isRequest && (
            <p>
              {it.status === 'open' ? (
                <button type="button" disabled={busy} onClick={() => void update({ status: 'answered' })}>
                  {t('corr.review.markAnswered')}
                </button>
              ) : (
                <button type="button" disabled={busy} onClick={() => void update({ status: 'open' })}>
                  {t('corr.review.markOpen')}
                </button>
              )}
            </p>
          )}
        </section>
      )}
    </main>
  )
}

/** ReplyNote says, on a draft that answers a message, which message it answers (its
 * date, from the case's thread: reading the message itself is not needed for that). */
export function ReplyNote({ tenant, caseID, itemID }: { tenant: string; caseID: string; itemID: string }) {
  useLocale()
  const { rows } = useThread(tenant, caseID)
  const row = rows?.find((r) => r.type === 'message' && r.id === itemID)
  return (
    <p class="notice" data-testid="reply-note">
      {row && row.type === 'message' ? (
        <>
          {t('corr.answers', { date: formatDate(row.date) })} · <a href={messageHref(tenant, itemID)}>{t('corr.answers.read')}</a>
        </>
      ) : (
        t('corr.answers.unknown')
      )}
    </p>
  )
}
