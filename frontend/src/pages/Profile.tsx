import { useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import { t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import type { Me } from '../session'
import { Feedback } from '../Feedback'

/** Profile: who you are, where you belong, and your password. */
export function Profile({ me }: { me: Me }) {
  useLocale()
  const [current, setCurrent] = useState('')
  const [next, setNext] = useState('')
  const [status, setStatus] = useState('')
  const [error, setError] = useState('')

  async function change(e: Event) {
    e.preventDefault()
    try {
      await must(api.POST('/me/password', { body: { current_password: current, new_password: next } }))
      setStatus(t('profile.changed'))
      setError('')
      setCurrent('')
      setNext('')
    } catch (err) {
      setStatus('')
      setError(err instanceof ApiError && err.fields.length ? t('error.fields', { fields: err.fields.map((f) => `${f.field}: ${f.message}`).join('; ') }) : errorText(err))
    }
  }

  return (
    <main id="main">
      <h1>{t('profile.title')}</h1>
      <dl class="facts">
        <dt>{t('profile.name')}</dt>
        <dd>{me.user.name}</dd>
        <dt>{t('profile.email')}</dt>
        <dd>{me.user.email}</dd>
      </dl>
      <h2>{t('profile.memberships')}</h2>
      <ul>
        {(me.memberships ?? []).map((m) => (
          <li key={m.tenant.slug}>
            {t('profile.membership', {
              tenant: m.tenant.name,
              organization: m.organization.name,
              roles: m.roles.map((r) => t(('role.' + r) as MessageKey)).join(', '),
            })}
          </li>
        ))}
      </ul>
      <h2>{t('security.title')}</h2>
      <p>
        {me.second_factor.enrolled
          ? t('profile.factorsOn', { count: me.second_factor.recovery_codes_left })
          : me.second_factor.required
            ? t('profile.factorsRequired')
            : t('profile.factorsOff')}{' '}
        <a href="/me/security">{t('profile.factorsManage')}</a>
      </p>
      <h2>{t('profile.password')}</h2>
      <Feedback status={status} error={error} />
      <form class="narrow-form" onSubmit={change}>
        <label for="current-password">{t('profile.current')}</label>
        <input id="current-password" type="password" autocomplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        <label for="new-password">{t('profile.new')}</label>
        <input id="new-password" type="password" autocomplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        <button type="submit" class="primary" disabled={!current || !next}>
          {t('profile.change')}
        </button>
      </form>
    </main>
  )
}
