import { useEffect, useState } from 'preact/hooks'
import { api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, locale, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import type { Me } from '../session'
import { daysLeftKey, formatDay, urgent } from '../calendar'

type Summary = components['schemas']['SubmissionSummary']
type Due = components['schemas']['Due']

/** The secretariat's queue: what waits for a reviewer or a signatory. */
export const queueStates = ['submitted', 'in_review', 'approved', 'dispatch_failed']

/** order lists the states with submissions, the queue first for the secretariat. */
export function order(states: string[], secretariat: boolean): { queue: string[]; others: string[] } {
  const all = ['draft', 'changes_requested', 'submitted', 'in_review', 'approved', 'dispatching', 'dispatch_failed', 'dispatched', 'rejected', 'withdrawn']
  const present = all.filter((s) => states.includes(s)).concat(states.filter((s) => !all.includes(s)))
  if (!secretariat) return { queue: [], others: present }
  return { queue: present.filter((s) => queueStates.includes(s)), others: present.filter((s) => !queueStates.includes(s)) }
}

/** Home lists the submissions the user may see in their first tenant, by state: for
 * reviewers and signatories the queue first, for tenant admins also what keeps letters
 * from reaching the ILO. */
export function Home({ me }: { me: Me }) {
  useLocale()
  const membership = me.memberships?.[0]
  const tenant = membership?.tenant
  const roles: string[] = membership?.roles ?? []
  const secretariat = roles.some((r) => r === 'reviewer' || r === 'signatory' || r === 'tenant_admin')
  const [items, setItems] = useState<Summary[] | null>(null)
  const [warnings, setWarnings] = useState<string[]>([])
  const [due, setDue] = useState<Due | null>(null)
  const [error, setError] = useState('')

  useEffect(() => {
    if (!tenant) return
    must(api.GET('/tenants/{tenant}/submissions', { params: { path: { tenant: tenant.slug }, query: { limit: 100 } } }))
      .then((l) => setItems(l.items))
      .catch((e) => setError(errorText(e)))
    must(api.GET('/tenants/{tenant}/due', { params: { path: { tenant: tenant.slug } } }))
      .then(setDue)
      .catch(() => setDue(null))
    if (roles.includes('tenant_admin')) {
      Promise.all([
        must(api.GET('/tenants/{tenant}/settings', { params: { path: { tenant: tenant.slug } } })),
        must(api.GET('/tenants/{tenant}/sender-domains', { params: { path: { tenant: tenant.slug } } })),
      ])
        .then(([st, domains]) => {
          const w: string[] = []
          if (st.dispatch.sandbox) w.push(t('warn.sandbox'))
          if (!st.dispatch.recipients.some((r) => r.kind === 'to')) w.push(t('warn.noRecipients'))
          if (domains.items.length === 0) w.push(t('warn.noSenderDomain'))
          if (!st.dispatch.signatory.name.trim()) w.push(t('warn.noSignatory'))
          setWarnings(w)
        })
        .catch(() => setWarnings([]))
    }
  }, [tenant?.slug])

  if (!tenant) {
    return (
      <main id="main">
        <h1>{t('home.title')}</h1>
        <p>{t('home.empty')}</p>
      </main>
    )
  }
  const byState = new Map<string, Summary[]>()
  for (const s of items ?? []) byState.set(s.state, [...(byState.get(s.state) ?? []), s])
  const { queue, others } = order([...byState.keys()], secretariat)
  // Under the secretariat's two headings the states are level 3; alone, level 2.
  const Heading = secretariat ? 'h3' : 'h2'
  const group = (state: string) => (
    <section key={state} aria-labelledby={'state-' + state}>
      <Heading id={'state-' + state}>
        <span class={'state state-' + state}>{t(('state.' + state) as MessageKey)}</span> <span class="count">({byState.get(state)!.length})</span>
      </Heading>
      <ul class="cards">
        {byState.get(state)!.map((s) => (
          <li key={s.id} class="card">
            <a class="title" href={`/t/${encodeURIComponent(tenant.slug)}/submissions/${encodeURIComponent(s.id)}`}>
              {s.title || t('submission.shreddedTitle')}
            </a>
            <span class="meta">
              {t(('kind.' + s.kind) as MessageKey)} · {t('home.updated', { date: formatDate(s.updated_at) })}
            </span>
          </li>
        ))}
      </ul>
    </section>
  )

  return (
    <main id="main">
      <h1>{t('home.title')}</h1>
      <p class="muted">
        {t('home.tenant')}: {tenant.name}
      </p>
      {roles.includes('editor') && (
        <p>
          <a class="button" href={`/t/${encodeURIComponent(tenant.slug)}/new`}>
            {t('new.button')}
          </a>
        </p>
      )}
      {warnings.length > 0 && (
        <section class="banner" aria-labelledby="warnings" data-testid="setup-warnings">
          <h2 id="warnings">{t('warn.title')}</h2>
          <ul>
            {warnings.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ul>
        </section>
      )}
      {due?.next_deadline && (
        <section aria-labelledby="due" data-testid="due">
          <h2 id="due">{t('due.title')}</h2>
          <p class={urgent(due.next_deadline.days_left) ? 'deadline urgent' : 'deadline'}>
            {t('due.intro', {
              session: due.next_deadline.session_name,
              date: formatDay(due.next_deadline.deadline, locale()),
              left: t(daysLeftKey(due.next_deadline.days_left), { count: due.next_deadline.days_left }),
            })}
          </p>
          {due.items.length === 0 && due.requests.length === 0 ? (
            <p>{t('due.none')}</p>
          ) : (
            <ul class="cards">
              {due.items.map((d) => (
                <li key={d.submission_id} class="card">
                  <a class="title" href={`/t/${encodeURIComponent(tenant.slug)}/submissions/${encodeURIComponent(d.submission_id)}`}>
                    {d.title || t('submission.shreddedTitle')}
                  </a>
                  <span class="meta">
                    {d.case_number ? t('submission.case') + ' ' + d.case_number : t(('kind.' + d.kind) as MessageKey)} ·{' '}
                    <span class={'state state-' + d.state}>{t(('state.' + d.state) as MessageKey)}</span>
                  </span>
                </li>
              ))}
            </ul>
          )}
          {due.requests.length > 0 && (
            <>
              <h3>{t('due.requests')}</h3>
              <ul class="cards" data-testid="due-requests">
                {due.requests.map((r) => (
                  <li key={r.item_id} class="card">
                    <a class="title" href={`/t/${encodeURIComponent(tenant.slug)}/correspondence/${encodeURIComponent(r.item_id)}`}>
                      {r.subject || t('corr.noSubject')}
                    </a>
                    <span class="meta">
                      {t('submission.case')} {r.case_number} · {formatDay(r.received_at.slice(0, 10), locale())}
                      {r.answered_by ? ' · ' + t('due.requestAnswering') : ''}
                    </span>
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <p aria-live="polite">{t('home.loading')}</p>}
      {items?.length === 0 && <p>{t('home.empty')}</p>}
      {queue.length > 0 && (
        <section aria-labelledby="queue" data-testid="queue">
          <h2 id="queue">{t('home.queue')}</h2>
          {queue.map(group)}
        </section>
      )}
      {others.length > 0 &&
        (secretariat ? (
          <section aria-labelledby="others">
            <h2 id="others">{t('home.others')}</h2>
            {others.map(group)}
          </section>
        ) : (
          others.map(group)
        ))}
    </main>
  )
}
