import { useEffect, useState } from 'preact/hooks'
import { api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import type { Me } from '../session'

type Summary = components['schemas']['SubmissionSummary']

/** Home lists the submissions the user may see in their first tenant, by state. */
export function Home({ me }: { me: Me }) {
  useLocale()
  const tenant = me.memberships?.[0]?.tenant
  const [items, setItems] = useState<Summary[] | null>(null)
  const [error, setError] = useState('')

  useEffect(() => {
    if (!tenant) return
    must(api.GET('/tenants/{tenant}/submissions', { params: { path: { tenant: tenant.slug } } }))
      .then((l) => setItems(l.items))
      .catch((e) => setError(errorText(e)))
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

  return (
    <main id="main">
      <h1>{t('home.title')}</h1>
      <p class="muted">
        {t('home.tenant')}: {tenant.name}
      </p>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {items === null && !error && <p aria-live="polite">{t('home.loading')}</p>}
      {items?.length === 0 && <p>{t('home.empty')}</p>}
      {[...byState].map(([state, list]) => (
        <section key={state} aria-labelledby={'state-' + state}>
          <h2 id={'state-' + state}>
            <span class={'state state-' + state}>{t(('state.' + state) as MessageKey)}</span> <span class="count">({list.length})</span>
          </h2>
          <ul class="cards">
            {list.map((s) => (
              <li key={s.id} class="card">
                <a class="title" href={`/t/${encodeURIComponent(tenant.slug)}/submissions/${encodeURIComponent(s.id)}`}>
                  {s.title}
                </a>
                <span class="meta">
                  {t(('kind.' + s.kind) as MessageKey)} · {t('home.updated', { date: formatDate(s.updated_at) })}
                </span>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </main>
  )
}
