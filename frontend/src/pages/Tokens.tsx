import { useEffect, useState } from 'preact/hooks'
import { api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'

type Token = components['schemas']['APIToken']
type Scope = Token['scopes'][number]
const allScopes: Scope[] = ['read', 'write', 'admin']

/** Tokens: the user's API tokens; a new one is shown once, with a copy button. */
export function Tokens() {
  useLocale()
  const [tokens, setTokens] = useState<Token[]>([])
  const [name, setName] = useState('')
  const [expires, setExpires] = useState('')
  const [scopes, setScopes] = useState<Scope[]>(['read', 'write'])
  const [refusedBy, setRefusedBy] = useState<string[]>([])
  const [fresh, setFresh] = useState('')
  const [copied, setCopied] = useState(false)
  const [error, setError] = useState('')

  const reload = () =>
    must(api.GET('/me/tokens'))
      .then((l) => setTokens(l.items))
      .catch((e) => setError(errorText(e)))
  useEffect(() => {
    reload()
  }, [])

  async function create(e: Event) {
    e.preventDefault()
    try {
      const body: components['schemas']['CreateTokenRequest'] = { name, scopes }
      if (expires) body.expires_at = new Date(expires + 'T23:59:59').toISOString()
      const tok = await must(api.POST('/me/tokens', { body }))
      setFresh(tok.token)
      setRefusedBy(tok.refused_by ?? [])
      setCopied(false)
      setName('')
      setExpires('')
      setError('')
      await reload()
    } catch (err) {
      setError(errorText(err))
    }
  }

  async function revoke(id: string) {
    try {
      await must(api.DELETE('/me/tokens/{id}', { params: { path: { id } } }))
      await reload()
    } catch (err) {
      setError(errorText(err))
    }
  }

  return (
    <main id="main">
      <h1>{t('tokens.title')}</h1>
      <p>{t('tokens.explain')}</p>
      {fresh && (
        <div class="notice" role="status">
          <p>{t('tokens.created')}</p>
          <code class="token" data-testid="new-token">
            {fresh}
          </code>{' '}
          <button
            type="button"
            onClick={async () => {
              await navigator.clipboard?.writeText(fresh)
              setCopied(true)
            }}
          >
            {t('tokens.copy')}
          </button>
          {copied && <span> {t('tokens.copied')}</span>}
          {refusedBy.length > 0 && <p class="error">{t('tokens.refusedBy', { tenants: refusedBy.join(', ') })}</p>}
        </div>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <form onSubmit={create} class="narrow-form">
        <label for="token-name">{t('tokens.name')}</label>
        <input id="token-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
        <label for="token-expires">{t('tokens.expires')}</label>
        <input id="token-expires" type="date" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
        <fieldset>
          <legend>{t('tokens.scopes')}</legend>
          {allScopes.map((sc) => (
            <label key={sc} class="check">
              <input
                type="checkbox"
                checked={scopes.includes(sc)}
                onChange={(e) =>
                  setScopes(e.currentTarget.checked ? allScopes.filter((x) => x === sc || scopes.includes(x)) : scopes.filter((x) => x !== sc))
                }
              />{' '}
              {t(('tokens.scope.' + sc) as MessageKey)}
            </label>
          ))}
        </fieldset>
        <button type="submit" class="primary" disabled={!name.trim() || scopes.length === 0}>
          {t('tokens.create')}
        </button>
      </form>
      {tokens.length === 0 ? (
        <p class="muted">{t('tokens.none')}</p>
      ) : (
        <ul class="cards">
          {tokens.map((tok) => (
            <li key={tok.id} class="card">
              <span class="title">
                {tok.name} <code>{tok.prefix}…</code>
              </span>
              <span class="meta">
                {tok.scopes.join(' + ')} ·{' '}
                {tok.last_used_at ? t('tokens.lastUsed', { date: formatDate(tok.last_used_at) }) : t('tokens.neverUsed')}
                {tok.expires_at && <> · {t('tokens.expiresOn', { date: formatDate(tok.expires_at) })}</>}
              </span>
              <span>
                <button type="button" onClick={() => revoke(tok.id)}>
                  {t('tokens.revoke', { name: tok.name })}
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </main>
  )
}
