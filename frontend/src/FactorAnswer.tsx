// FactorAnswer asks for a second factor: the security key's button, the authenticator
// app's code, a recovery code or (a step-up of someone without a factor) the password.
// The second step of a sign-in and the step-up prompt both use it.
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, type StepUpMethod } from './api/client'
import type { components } from './api/schema'
import { t } from './i18n'
import type { MessageKey } from './i18n/en'
import { errorText } from './errors'
import { assert, supported } from './webauthn'

export type Answer = components['schemas']['CompleteSecondFactorRequest']
type Options = { publicKey: Record<string, unknown> }
type TextMethod = 'totp' | 'recovery' | 'password'

/** wrongAnswer says what to do when the API refused an answer given with method. */
export function wrongAnswer(err: unknown, method: StepUpMethod): string {
  if (err instanceof ApiError) {
    if (err.status === 429) return t('signIn.tooMany', { seconds: err.retryAfter ?? 30 })
    if (err.code === 'invalid_second_factor' || (err.code === 'validation_failed' && method !== 'webauthn')) {
      return t(('factor.wrong.' + method) as MessageKey)
    }
  }
  if (err instanceof DOMException) {
    // NotAllowedError: cancelled, timed out, or no key of this account was used.
    return t(err.name === 'NotAllowedError' ? 'factor.keyCancelled' : 'factor.keyFailed')
  }
  return errorText(err)
}

/** firstText is the text answer offered first: the app's code, else the password. */
function firstText(methods: StepUpMethod[]): TextMethod | null {
  if (methods.includes('totp')) return 'totp'
  if (methods.includes('password')) return 'password'
  return null
}

export function FactorAnswer({
  id,
  methods,
  submitLabel,
  challenge,
  onAnswer,
  onRefused,
  children,
}: {
  /** id prefixes the ids of the fields (two forms may be on one page). */
  id: string
  methods: StepUpMethod[]
  submitLabel: string
  /** challenge gives the security key's options for each attempt. */
  challenge: () => Promise<Options>
  /** onAnswer sends the answer; it throws the API's refusal. */
  onAnswer: (answer: Answer) => Promise<void>
  /** onRefused may take a refusal over (an expired sign-in); true if it did. */
  onRefused?: (err: unknown) => boolean
  /** children go under the submit button (a cancel button). */
  children?: preact.ComponentChildren
}) {
  const [mode, setMode] = useState<TextMethod | null>(firstText(methods))
  const [value, setValue] = useState('')
  const [error, setError] = useState('')
  const [keyError, setKeyError] = useState('')
  const [busy, setBusy] = useState(false)
  const input = useRef<HTMLInputElement>(null)
  const keys = methods.includes('webauthn')
  const canKey = keys && supported()

  useEffect(() => {
    input.current?.focus()
  }, [mode])

  function switchTo(m: TextMethod | null) {
    setMode(m)
    setValue('')
    setError('')
  }

  async function send(answer: Answer, method: StepUpMethod, show: (s: string) => void) {
    setBusy(true)
    setError('')
    setKeyError('')
    try {
      await onAnswer(answer)
    } catch (err) {
      if (!onRefused?.(err)) show(wrongAnswer(err, method))
    } finally {
      setBusy(false)
    }
  }

  async function submitText(e: Event) {
    e.preventDefault()
    if (!mode) return
    const v = mode === 'password' ? value : value.replace(/\s+/g, '').toLowerCase()
    if (!v) {
      setError(t(('factor.missing.' + mode) as MessageKey))
      input.current?.focus()
      return
    }
    const answer: Answer = mode === 'password' ? { method: 'password', password: v } : { method: mode, code: v }
    await send(answer, mode, (s) => {
      setError(s)
      input.current?.focus()
    })
  }

  async function useKey() {
    setBusy(true)
    setKeyError('')
    let credential: Record<string, unknown>
    try {
      credential = await assert(await challenge())
    } catch (err) {
      setBusy(false)
      if (!onRefused?.(err)) setKeyError(wrongAnswer(err, 'webauthn'))
      return
    }
    await send({ method: 'webauthn', credential }, 'webauthn', setKeyError)
  }

  const field = id + '-' + (mode ?? 'none')
  return (
    <div class="factor-answer">
      {keys && (
        <div class="key">
          {canKey ? (
            <button type="button" class={mode ? '' : 'primary'} onClick={useKey} disabled={busy}>
              {t('factor.useKey')}
            </button>
          ) : (
            <p class="muted">{t('factor.keyUnsupported')}</p>
          )}
          {keyError && (
            <p class="error" role="alert">
              {keyError}
            </p>
          )}
        </div>
      )}
      {mode && (
        <form onSubmit={submitText} noValidate>
          <label for={field}>{t(('factor.label.' + mode) as MessageKey)}</label>
          {mode === 'password' ? (
            <input
              ref={input}
              id={field}
              type="password"
              autocomplete="current-password"
              value={value}
              aria-invalid={!!error}
              aria-describedby={error ? field + '-error' : undefined}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
          ) : (
            <input
              ref={input}
              id={field}
              type="text"
              inputMode={mode === 'totp' ? 'numeric' : 'text'}
              autocomplete={mode === 'totp' ? 'one-time-code' : 'off'}
              autoCapitalize="none"
              spellcheck={false}
              maxLength={mode === 'totp' ? 8 : 24}
              value={value}
              aria-invalid={!!error}
              aria-describedby={(error ? field + '-error ' : '') + field + '-help'}
              onInput={(e) => setValue(e.currentTarget.value)}
            />
          )}
          {mode !== 'password' && (
            <p id={field + '-help'} class="muted">
              {t(('factor.help.' + mode) as MessageKey)}
            </p>
          )}
          {error && (
            <p id={field + '-error'} class="error" role="alert">
              {error}
            </p>
          )}
          <div class="actions">
            <button type="submit" class="primary" disabled={busy}>
              {submitLabel}
            </button>
            {children}
          </div>
        </form>
      )}
      {!mode && children && <div class="actions">{children}</div>}
      <p class="alternatives">
        {mode !== 'recovery' && methods.includes('recovery') && (
          <button type="button" class="link" onClick={() => switchTo('recovery')}>
            {t('factor.useRecovery')}
          </button>
        )}
        {mode === 'recovery' && methods.includes('totp') && (
          <button type="button" class="link" onClick={() => switchTo('totp')}>
            {t('factor.useApp')}
          </button>
        )}
      </p>
    </div>
  )
}
