import { useEffect, useState } from 'preact/hooks'
import { api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { Pending } from '../Pending'
import { DeadlineText } from './Calendar'
import { CorrespondenceThread } from './Correspondence'

type Case = components['schemas']['Case']
type Summary = components['schemas']['SubmissionSummary']

/** countryName is the country's name in the user's language. */
export function countryName(code: string, locale: string): string {
  try {
    return new Intl.DisplayNames([locale], { type: 'region' }).of(code) ?? code
  } catch {
    return code
  }
}

const caseLabel = (c: Case) => (c.number ? t('new.caseNumber', { number: c.number, title: c.title }) : t('new.newComplaint', { title: c.title }))

/** Cases lists the tenant's ILO cases. */
export function Cases({ tenant }: { tenant: string }) {
  const locale = useLocale()
  const [cases, setCases] = useState<Case[] | null>(null)
  const [error, setError] = useState('')
  useEffect(() => {
    must(api.GET('/tenants/{tenant}/cases', { params: { path: { tenant }, query: { limit: 100 } } }))
      .then((l) => setCases(l.items))
      .catch((e) => setError(errorText(e)))
  }, [tenant])
  return (
    <main id="main">
      <h1>{t('cases.title')}</h1>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {cases?.length === 0 && <p>{t('cases.none')}</p>}
      <ul class="cards">
        {(cases ?? []).map((c) => (
          <li key={c.id} class="card">
            <a class="title" href={`/t/${encodeURIComponent(tenant)}/cases/${encodeURIComponent(c.id)}`}>
              {caseLabel(c)}
            </a>
            <span class="meta">
              {countryName(c.country, locale)} · {t(('cases.status.' + c.status) as MessageKey)}
            </span>
            {c.next_deadline && (
              <span class="meta">
                <DeadlineText next={c.next_deadline} />
              </span>
            )}
          </li>
        ))}
      </ul>
    </main>
  )
}

/** CaseView shows a case and its submissions as a timeline, newest first. */
export function CaseView({ tenant, id }: { tenant: string; id: string }) {
  const locale = useLocale()
  const [c, setCase] = useState<Case | null>(null)
  const [subs, setSubs] = useState<Summary[]>([])
  const [error, setError] = useState('')
  useEffect(() => {
    Promise.all([
      must(api.GET('/tenants/{tenant}/cases/{id}', { params: { path: { tenant, id } } })),
      must(api.GET('/tenants/{tenant}/submissions', { params: { path: { tenant }, query: { case_id: id, limit: 100 } } })),
    ])
      .then(([cs, l]) => {
        setCase(cs)
        setSubs(l.items)
      })
      .catch((e) => setError(errorText(e)))
  }, [tenant, id])
  if (!c) {
    return <Pending error={error} loading="home.loading" />
  }
  return (
    <main id="main">
      <h1>{caseLabel(c)}</h1>
      <dl class="facts">
        <dt>{t('cases.country')}</dt>
        <dd>{countryName(c.country, locale)}</dd>
        <dt>{t('cases.complainants')}</dt>
        <dd>{c.complainants.join('; ') || '—'}</dd>
      </dl>
      {c.next_deadline && (
        <p>
          <DeadlineText next={c.next_deadline} />
        </p>
      )}
      {c.normlex_url.startsWith('https://') && (
        <p>
          <a href={c.normlex_url} rel="noopener noreferrer" target="_blank">
            {t('cases.normlex')}
          </a>
        </p>
      )}
      <h2>{t('cases.submissions')}</h2>
      <ol class="timeline">
        {subs.map((s) => (
          <li key={s.id}>
            <time dateTime={s.created_at}>{formatDate(s.created_at)}</time>{' '}
            <a href={`/t/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(s.id)}`}>{s.title || t('submission.shreddedTitle')}</a>{' '}
            <span class={'state state-' + s.state}>{t(('state.' + s.state) as MessageKey)}</span>
          </li>
        ))}
      </ol>
      <CorrespondenceThread tenant={tenant} caseID={c.id} />
    </main>
  )
}
