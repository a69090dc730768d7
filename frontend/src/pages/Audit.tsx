// The tenant's audit trail, for its administrators: who did what and when, filtered by
// member, action, submission and dates, newest first, a page at a time, and as CSV with
// the same filters. Events hold ids, actions and short details, never a text.
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, known, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'

type AuditEvent = components['schemas']['Event']
type Member = components['schemas']['Member']

/** The actions the filter offers, by kind; each kind also as a prefix (submission.). */
export const actionGroups: { prefix: string; actions: string[] }[] = [
  {
    prefix: 'submission.',
    actions: [
      'submission.created', 'submission.edited', 'submission.submit', 'submission.withdraw', 'submission.start_review',
      'submission.request_changes', 'submission.approve', 'submission.reject', 'submission.sign', 'submission.resend',
      'submission.commented', 'submission.dispatched', 'submission.dispatch_failed', 'submission.retention_warned',
      'submission.deleted', 'submission.shredded',
    ],
  },
  { prefix: 'attachment.', actions: ['attachment.added', 'attachment.removed', 'attachment.downloaded', 'attachment.infected'] },
  { prefix: 'letter.', actions: ['letter.previewed'] },
  { prefix: 'dispatch.', actions: ['dispatch.file_downloaded'] },
  { prefix: 'evidence.', actions: ['evidence.link_downloaded'] },
  { prefix: 'case.', actions: ['case.created', 'case.updated'] },
  { prefix: 'settings.', actions: ['settings.updated'] },
  { prefix: 'security_policy.', actions: ['security_policy.changed'] },
  { prefix: 'sender_domain.', actions: ['sender_domain.added', 'sender_domain.removed'] },
  { prefix: 'organization.', actions: ['organization.created'] },
  { prefix: 'user.', actions: ['user.created', 'user.invited', 'user.updated', 'user.deactivated'] },
  { prefix: 'invitation.', actions: ['invitation.accepted', 'invitation.declined', 'invitation.revoked'] },
  { prefix: 'webhook.', actions: ['webhook.created', 'webhook.updated', 'webhook.deleted', 'webhook.redelivered'] },
  { prefix: 'password.', actions: ['password.changed'] },
  {
    prefix: 'second_factor.',
    actions: ['second_factor.created', 'second_factor.activated', 'second_factor.removed', 'second_factor.reset', 'second_factor.clone_suspected'],
  },
  { prefix: 'recovery_codes.', actions: ['recovery_codes.generated'] },
]

/** actionLabel names an action in the user's language; one without a name shows as it is. */
export function actionLabel(action: string): string {
  for (const key of ['audit.action.' + action, 'event.' + action]) {
    if (known(key)) return t(key)
  }
  return action
}

/** Filters are the view's filters as the form holds them (dates as yyyy-mm-dd). */
export interface Filters {
  actor_id: string
  action: string
  submission_id: string
  since: string
  until: string
}

const none: Filters = { actor_id: '', action: '', submission_id: '', since: '', until: '' }

/** query turns the filters into the API's parameters: a day from the user's midnight,
 * and "until" a date included (the API's until is excluded: the next midnight). */
export function query(f: Filters): Record<string, string> {
  const q: Record<string, string> = {}
  if (f.actor_id) q.actor_id = f.actor_id
  if (f.action.trim()) q.action = f.action.trim()
  if (f.submission_id.trim()) q.submission_id = f.submission_id.trim()
  if (f.since) q.since = new Date(f.since + 'T00:00:00').toISOString()
  if (f.until) {
    const d = new Date(f.until + 'T00:00:00')
    d.setDate(d.getDate() + 1)
    q.until = d.toISOString()
  }
  return q
}

/** fromURL reads the filters of the page's address (so that a view can be linked). */
export function fromURL(search: string): Filters {
  const p = new URLSearchParams(search)
  return { actor_id: p.get('actor_id') ?? '', action: p.get('action') ?? '', submission_id: p.get('submission_id') ?? '', since: p.get('since') ?? '', until: p.get('until') ?? '' }
}

function toURL(f: Filters): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(f)) if (v) p.set(k, v)
  const s = p.toString()
  return location.pathname + (s ? '?' + s : '')
}

const fieldLabel: Record<string, MessageKey> = {
  actor_id: 'audit.actor',
  action: 'audit.action',
  submission_id: 'audit.submission',
  since: 'audit.since',
  until: 'audit.until',
}

const short = (id: string) => id.slice(0, 8)

export function Audit({ tenant }: { tenant: string }) {
  useLocale()
  const [form, setForm] = useState<Filters>(() => fromURL(location.search))
  const [applied, setApplied] = useState<Filters>(form)
  const [events, setEvents] = useState<AuditEvent[] | null>(null)
  const [next, setNext] = useState('')
  const [members, setMembers] = useState<Member[]>([])
  const [error, setError] = useState('')
  const [bad, setBad] = useState<string[]>([])
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    // Actors are user ids; the members list gives their names.
    ;(async () => {
      const all: Member[] = []
      let cursor: string | undefined
      for (let i = 0; i < 20; i++) {
        const page = await must(api.GET('/tenants/{tenant}/users', { params: { path: { tenant }, query: { limit: 100, cursor } } }))
        all.push(...page.items)
        if (!page.next_cursor) break
        cursor = page.next_cursor
      }
      setMembers(all)
    })().catch(() => {})
  }, [tenant])

  async function load(f: Filters, cursor?: string) {
    setBusy(true)
    try {
      const page = await must(api.GET('/tenants/{tenant}/audit-events', { params: { path: { tenant }, query: { ...query(f), cursor, limit: 50 } } }))
      setEvents((before) => (cursor ? [...(before ?? []), ...page.items] : page.items))
      setNext(page.next_cursor)
      setError('')
      setBad([])
    } catch (err) {
      if (err instanceof ApiError && err.fields.length) {
        setBad(err.fields.map((x) => x.field))
        setError(t('error.fields', { fields: err.fields.map((x) => (fieldLabel[x.field] ? t(fieldLabel[x.field]) : x.field)).join('; ') }))
      } else setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }
  useEffect(() => {
    load(applied)
  }, [tenant, applied])

  function apply(e: Event) {
    e.preventDefault()
    history.replaceState(history.state, '', toURL(form))
    setApplied({ ...form })
  }

  function clear() {
    history.replaceState(history.state, '', toURL(none))
    setForm(none)
    setApplied(none)
  }

  const who = (id?: string | null) => {
    if (!id) return t('audit.platform')
    const m = members.find((x) => x.id === id)
    return m ? m.name : t('audit.unknownMember', { id: short(id) })
  }
  const csv = `/api/v1/tenants/${encodeURIComponent(tenant)}/audit-events.csv` + (() => {
    const s = new URLSearchParams(query(applied)).toString()
    return s ? '?' + s : ''
  })()
  const set = (k: keyof Filters) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [k]: e.currentTarget.value })
  const invalid = (k: keyof Filters) => (bad.includes(k) ? { 'aria-invalid': true, 'aria-describedby': 'audit-error' } : {})
  const listed = actionGroups.some((g) => g.prefix === form.action || g.actions.includes(form.action))

  return (
    <main id="main">
      <p>
        <a href={`/t/${encodeURIComponent(tenant)}/admin`}>{t('audit.back')}</a>
      </p>
      <h1>{t('audit.title')}</h1>
      <p>{t('audit.intro')}</p>
      <form class="filters" onSubmit={apply} aria-label={t('audit.filters')}>
        <div>
          <label for="audit-actor">{t('audit.actor')}</label>
          <select id="audit-actor" value={form.actor_id} onChange={set('actor_id')} {...invalid('actor_id')}>
            <option value="">{t('audit.anyone')}</option>
            {members.map((m) => (
              <option key={m.id} value={m.id}>
                {m.name}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="audit-action">{t('audit.action')}</label>
          <select id="audit-action" value={form.action} onChange={set('action')} {...invalid('action')}>
            <option value="">{t('audit.anything')}</option>
            {!listed && form.action && <option value={form.action}>{form.action}</option>}
            {actionGroups.map((g) => (
              <optgroup key={g.prefix} label={t(('audit.group.' + g.prefix.slice(0, -1)) as MessageKey)}>
                {g.actions.length > 1 && <option value={g.prefix}>{t('audit.allOf', { kind: t(('audit.group.' + g.prefix.slice(0, -1)) as MessageKey) })}</option>}
                {g.actions.map((a) => (
                  <option key={a} value={a}>
                    {actionLabel(a)}
                  </option>
                ))}
              </optgroup>
            ))}
          </select>
        </div>
        <div>
          <label for="audit-submission">{t('audit.submission')}</label>
          <input id="audit-submission" value={form.submission_id} aria-describedby="audit-submission-help" onInput={set('submission_id')} {...invalid('submission_id')} />
          <p id="audit-submission-help" class="muted">
            {t('audit.submissionHelp')}
          </p>
        </div>
        <div>
          <label for="audit-since">{t('audit.since')}</label>
          <input id="audit-since" type="date" value={form.since} onInput={set('since')} {...invalid('since')} />
        </div>
        <div>
          <label for="audit-until">{t('audit.until')}</label>
          <input id="audit-until" type="date" value={form.until} onInput={set('until')} {...invalid('until')} />
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            {t('audit.apply')}
          </button>
          <button type="button" onClick={clear}>
            {t('audit.clear')}
          </button>
        </div>
      </form>
      <p>
        <a href={csv} download data-testid="audit-csv">
          {t('audit.csv')}
        </a>
      </p>
      {error && (
        <p id="audit-error" class="error" role="alert">
          {error}
        </p>
      )}
      <p class="muted" aria-live="polite">
        {events === null ? t('home.loading') : events.length === 0 ? t('audit.none') : t('audit.shown', { count: events.length })}
      </p>
      {events && events.length > 0 && (
        <ol class="cards events" data-testid="audit-events">
          {events.map((e) => (
            <li key={e.id} class="card">
              <span class="title">
                {actionLabel(e.action)} <code class="muted">{e.action}</code>
              </span>
              <span class="meta">
                <time dateTime={e.created_at}>{formatDate(e.created_at)}</time> · {who(e.actor_id)}
                {e.object_type && (
                  <>
                    {' · '}
                    {e.object_type === 'submission' ? (
                      <a href={`/t/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(e.object_id)}`}>
                        {t('audit.object', { type: e.object_type, id: short(e.object_id) })}
                      </a>
                    ) : (
                      t('audit.object', { type: e.object_type, id: short(e.object_id) })
                    )}
                  </>
                )}
                {e.ip && <> · {e.ip}</>}
              </span>
              {e.details && e.details !== '{}' && e.details !== 'null' && <code class="details">{e.details}</code>}
            </li>
          ))}
        </ol>
      )}
      {next && (
        <button type="button" onClick={() => load(applied, next)} disabled={busy}>
          {t('audit.more')}
        </button>
      )}
    </main>
  )
}
