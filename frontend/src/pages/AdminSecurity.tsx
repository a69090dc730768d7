// The tenant's second-factor policy: who among its members must have a second factor.
import { useEffect, useState } from 'preact/hooks'
import { api, must } from '../api/client'
import type { components } from '../api/schema'
import { t } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { Feedback } from '../Feedback'

type Policy = components['schemas']['SecondFactorPolicy']
const policies: Policy[] = ['privileged_roles', 'all_members', 'none']
// From the strictest: a change to a later one asks fewer people for a second factor.
const strictness: Record<Policy, number> = { all_members: 2, privileged_roles: 1, none: 0 }

export function SecurityPolicy({ tenant }: { tenant: string }) {
  const [saved, setSaved] = useState<Policy | null>(null)
  const [choice, setChoice] = useState<Policy | null>(null)
  const [status, setStatus] = useState('')
  const [error, setError] = useState('')
  useEffect(() => {
    must(api.GET('/tenants/{tenant}/security', { params: { path: { tenant } } }))
      .then((p) => {
        setSaved(p.second_factor_required_for)
        setChoice(p.second_factor_required_for)
      })
      .catch((e) => setError(errorText(e)))
  }, [tenant])

  async function save(e: Event) {
    e.preventDefault()
    if (!choice || !saved) return
    // Asking fewer people for a second factor weakens every account it lets go: say so.
    if (strictness[choice] < strictness[saved] && !window.confirm(t('policy.confirmWeaker'))) return
    try {
      const p = await must(api.PUT('/tenants/{tenant}/security', { params: { path: { tenant } }, body: { second_factor_required_for: choice } }))
      setSaved(p.second_factor_required_for)
      setError('')
      setStatus(t('policy.saved'))
    } catch (err) {
      setStatus('')
      setError(errorText(err))
    }
  }

  return (
    <section aria-labelledby="policy">
      <h2 id="policy">{t('policy.title')}</h2>
      {!choice ? (
        error && (
          <p class="error" role="alert">
            {error}
          </p>
        )
      ) : (
        <form class="narrow-form wide" onSubmit={save}>
          <fieldset>
            <legend>{t('policy.legend')}</legend>
            {policies.map((p) => (
              <div class="choice" key={p}>
                <label class="check">
                  <input type="radio" name="policy" value={p} checked={choice === p} aria-describedby={`policy-${p}-help`} onChange={() => setChoice(p)} />
                  {t(`policy.${p}` as MessageKey)}
                </label>
                <p id={`policy-${p}-help`} class="muted">
                  {t(`policy.${p}.help` as MessageKey)}
                </p>
              </div>
            ))}
          </fieldset>
          <p class="muted">{t('policy.superadmins')}</p>
          <Feedback status={status} error={error} />
          <button type="submit" class="primary" disabled={choice === saved}>
            {t('policy.save')}
          </button>
        </form>
      )}
    </section>
  )
}
