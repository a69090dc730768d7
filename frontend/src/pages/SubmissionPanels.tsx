// Parts of the submission page: the revisions and their diff, and the dispatch record.
import { useEffect, useState } from 'preact/hooks'
import { api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, t, useLocale } from '../i18n'
import { errorText } from '../errors'

type Revision = components['schemas']['Revision']
type Diff = components['schemas']['Diff']
type Dispatch = components['schemas']['Dispatch']
export type Settings = components['schemas']['Settings']

/** Revisions lists the revisions and shows the word-level diff of any two. */
export function Revisions({ tenant, id, revision }: { tenant: string; id: string; revision: number }) {
  useLocale()
  const [revs, setRevs] = useState<Revision[]>([])
  const [from, setFrom] = useState(1)
  const [to, setTo] = useState(revision)
  const [diff, setDiff] = useState<Diff | null>(null)
  const [error, setError] = useState('')

  useEffect(() => {
    must(api.GET('/tenants/{tenant}/submissions/{id}/revisions', { params: { path: { tenant, id } } }))
      .then((l) => {
        setRevs(l.items)
        setTo(l.items.length)
        setFrom(Math.max(1, l.items.length - 1))
      })
      .catch((e) => setError(errorText(e)))
  }, [tenant, id, revision])

  if (revs.length < 2) return null

  async function compare(e: Event) {
    e.preventDefault()
    try {
      setDiff(
        await must(api.GET('/tenants/{tenant}/submissions/{id}/diff', { params: { path: { tenant, id }, query: { from: Number(from), to: Number(to) } } })),
      )
      setError('')
    } catch (err) {
      setError(errorText(err))
    }
  }

  const options = revs.map((r) => (
    <option key={r.number} value={r.number}>
      {r.number} · {formatDate(r.created_at)}
    </option>
  ))
  return (
    <section aria-labelledby="revisions">
      <h2 id="revisions">{t('revisions.title')}</h2>
      <form class="inline" onSubmit={compare}>
        <label>
          {t('revisions.from')}{' '}
          <select value={from} onChange={(e) => setFrom(Number(e.currentTarget.value))}>
            {options}
          </select>
        </label>
        <label>
          {t('revisions.to')}{' '}
          <select value={to} onChange={(e) => setTo(Number(e.currentTarget.value))}>
            {options}
          </select>
        </label>
        <button type="submit">{t('revisions.compare')}</button>
      </form>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {diff && <DiffView ops={diff.body} />}
    </section>
  )
}

/** DiffView shows a word diff: kept text plain, added text as <ins>, removed as <del>
 * (each named for screen readers, and never only by colour). */
export function DiffView({ ops }: { ops: Diff['body'] }) {
  return (
    <div class="body diff" data-testid="diff">
      {ops.map((op, i) =>
        op.op === 'equal' ? (
          <span key={i}>{op.text}</span>
        ) : op.op === 'insert' ? (
          <ins key={i} aria-label={t('revisions.added')}>
            {op.text}
          </ins>
        ) : (
          <del key={i} aria-label={t('revisions.removed')}>
            {op.text}
          </del>
        ),
      )}
    </div>
  )
}

/** Dispatches shows every sending of the submission with each recipient's outcome; while
 * one is under way it looks again every two seconds. */
export function Dispatches({ tenant, id, state, onSettled }: { tenant: string; id: string; state: string; onSettled: () => void }) {
  const active = state === 'dispatching'
  useLocale()
  const [items, setItems] = useState<Dispatch[] | null>(null)
  const [error, setError] = useState('')

  useEffect(() => {
    let stop = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const look = async () => {
      try {
        const l = await must(api.GET('/tenants/{tenant}/submissions/{id}/dispatches', { params: { path: { tenant, id } } }))
        if (stop) return
        setItems(l.items)
        if (active) {
          if (l.items.some((d) => d.state !== 'queued')) onSettled()
          timer = setTimeout(look, 2000)
        }
      } catch (err) {
        setError(errorText(err))
      }
    }
    void look()
    return () => {
      stop = true
      clearTimeout(timer)
    }
  }, [tenant, id, state]) // a new state may bring a new dispatch

  if (items === null || (items.length === 0 && !active)) return null
  const base = `/api/v1/tenants/${encodeURIComponent(tenant)}/dispatches/`
  return (
    <section aria-labelledby="dispatches">
      <h2 id="dispatches">{t('dispatch.title')}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items.length === 0 && <p>{t('dispatch.none')}</p>}
      <ol class="timeline" aria-live="polite">
        {items.map((d) => (
          <li key={d.id} data-testid="dispatch">
            <strong>
              {d.state === 'sent' && d.sent_at
                ? t('dispatch.sent', { date: formatDate(d.sent_at) })
                : d.state === 'failed'
                  ? t('dispatch.failed', { reason: d.last_error })
                  : t('dispatch.queued', { attempts: d.attempts })}
            </strong>
            {d.sandbox && <span class="muted"> ({t('dispatch.test')})</span>}
            <ul>
              {d.deliveries.map((r) => (
                <li key={r.address + r.kind}>
                  {r.address} ({r.kind}): {r.status === 'accepted' ? t('dispatch.accepted') : t('dispatch.rejected')}
                </li>
              ))}
            </ul>
            {d.shredded_at && (
              <>
                <p class="muted">{t('dispatch.shredded', { date: formatDate(d.shredded_at) })}</p>
                <ul>
                  {d.sent_files.map((f, i) => (
                    <li key={i}>
                      {t(f.role === 'letter' ? 'dispatch.fileLetter' : 'dispatch.fileEvidence')}: <code class="hash">{f.sha256}</code>
                    </li>
                  ))}
                </ul>
              </>
            )}
            {d.state === 'sent' && !d.shredded_at && (
              <p>
                <a href={base + encodeURIComponent(d.id) + '/letter.pdf'} download>
                  {t('dispatch.asSent')}
                </a>{' '}
                ·{' '}
                <a href={base + encodeURIComponent(d.id) + '/manifest.json'} download>
                  {t('dispatch.manifest')}
                </a>
              </p>
            )}
          </li>
        ))}
      </ol>
    </section>
  )
}

/** useSettings reads the tenant's dispatch settings, for those allowed to (null otherwise). */
export function useSettings(tenant: string): Settings | null {
  const [s, set] = useState<Settings | null>(null)
  useEffect(() => {
    must(api.GET('/tenants/{tenant}/settings', { params: { path: { tenant } } }))
      .then(set)
      .catch(() => set(null))
  }, [tenant])
  return s
}

/** Receivability shows, to those who may approve, whether the checks approval runs pass. */
export function Receivability({ tenant, id, version }: { tenant: string; id: string; version: number }) {
  useLocale()
  const [r, setR] = useState<components['schemas']['Receivability'] | null>(null)
  useEffect(() => {
    must(api.GET('/tenants/{tenant}/submissions/{id}/receivability', { params: { path: { tenant, id } } }))
      .then(setR)
      .catch(() => setR(null))
  }, [tenant, id, version])
  if (!r) return null
  return (
    <section aria-labelledby="receivability" data-testid="receivability">
      <h2 id="receivability">{t('receivability.title')}</h2>
      {r.ready ? (
        <p>{t('receivability.ready')}</p>
      ) : (
        <>
          <p class="error">{t('receivability.failed')}</p>
          <ul>
            {r.failed.map((f) => (
              <li key={f.field}>{f.message}</li>
            ))}
          </ul>
        </>
      )}
    </section>
  )
}
