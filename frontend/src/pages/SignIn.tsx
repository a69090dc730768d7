import { useState } from 'preact/hooks'
import { ApiError } from '../api/client'
import { signIn } from '../session'
import { t, useLocale } from '../i18n'
import { errorText } from '../errors'

export function SignIn({ expired, returnTo, onDone }: { expired: boolean; returnTo: string; onDone: (to: string) => void }) {
  useLocale()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)

  async function submit(e: Event) {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      await signIn(email, password)
      onDone(returnTo || '/')
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('signIn.failed'))
      else if (err instanceof ApiError && err.status === 429) setError(t('signIn.tooMany', { seconds: err.retryAfter ?? 30 }))
      else setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" class="narrow">
      <h1>{t('signIn.title')}</h1>
      {expired && (
        <p class="notice" role="status">
          {t('signIn.expired')}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <label for="email">{t('signIn.email')}</label>
        <input id="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <label for="password">{t('signIn.password')}</label>
        <input
          id="password"
          type="password"
          autocomplete="current-password"
          required
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {t('signIn.submit')}
        </button>
      </form>
    </main>
  )
}
