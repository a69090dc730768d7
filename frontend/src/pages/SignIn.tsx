import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import { completeSignIn, signIn, type SecondStep } from '../session'
import { t, useLocale } from '../i18n'
import { errorText } from '../errors'
import { FactorAnswer } from '../FactorAnswer'

/** SignIn asks for the e-mail address and password, then, for an account with a second
 * factor, for that factor. */
export function SignIn({ expired, returnTo, onDone }: { expired: boolean; returnTo: string; onDone: (to: string) => void }) {
  useLocale()
  const [email, setEmail] = useState('')
  const [password, setPassword] = useState('')
  const [error, setError] = useState('')
  const [notice, setNotice] = useState(expired ? t('signIn.expired') : '')
  const [busy, setBusy] = useState(false)
  const [second, setSecond] = useState<SecondStep | null>(null)
  const passwordField = useRef<HTMLInputElement>(null)
  // The options of the login serve the first security-key attempt; each later one needs
  // a new challenge (an answered one is spent).
  const keyOptions = useRef<SecondStep['webauthn']>(undefined)

  // Back to the first step, saying why: the second waited too long (5 minutes).
  function restart() {
    setSecond(null)
    setPassword('')
    setNotice(t('signIn.pendingExpired'))
    // The password is asked again: its field gets the focus, the notice says why.
    setTimeout(() => passwordField.current?.focus())
  }
  useEffect(() => {
    if (!second) {
      return
    }
    const left = Date.parse(second.expiresAt) - Date.now()
    if (!(left > 0)) return
    const timer = setTimeout(restart, left)
    return () => clearTimeout(timer)
  }, [second])

  async function submit(e: Event) {
    e.preventDefault()
    setBusy(true)
    setError('')
    try {
      const step = await signIn(email, password)
      if (step) {
        setNotice('')
        keyOptions.current = step.webauthn
        setSecond(step)
      } else onDone(returnTo || '/')
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('signIn.failed'))
      else if (err instanceof ApiError && err.status === 429) setError(t('signIn.tooMany', { seconds: err.retryAfter ?? 30 }))
      else setError(errorText(err))
    } finally {
      setBusy(false)
    }
  }

  if (second) {
    return (
      <main id="main" class="narrow">
        <h1>{t('signIn.secondTitle')}</h1>
        <p>{t('signIn.secondIntro')}</p>
        <FactorAnswer
          id="second"
          methods={second.methods}
          submitLabel={t('signIn.verify')}
          challenge={async () => {
            const o = keyOptions.current
            keyOptions.current = undefined
            return o ?? must(api.POST('/auth/second-factor/challenge'))
          }}
          onAnswer={async (answer) => {
            await completeSignIn(answer)
            onDone(returnTo || '/')
          }}
          onRefused={(err) => {
            // The pending sign-in is gone (expired, or its cookie with it): start again.
            if (err instanceof ApiError && (err.code === 'pending_login_expired' || err.code === 'unauthenticated')) {
              restart()
              return true
            }
            return false
          }}
        >
          <button type="button" onClick={() => setSecond(null)}>
            {t('signIn.back')}
          </button>
        </FactorAnswer>
      </main>
    )
  }

  return (
    <main id="main" class="narrow">
      <h1>{t('signIn.title')}</h1>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <label for="email">{t('signIn.email')}</label>
        <input id="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <label for="password">{t('signIn.password')}</label>
        <input
          ref={passwordField}
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
