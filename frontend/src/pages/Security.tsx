// Sign-in security: the user's second factors (authenticator apps, security keys and
// passkeys) and recovery codes. After a sign-in whose roles require a factor the user
// does not have yet, it is the only page shown, until one is added.
import { useEffect, useRef, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, t, useLocale } from '../i18n'
import { errorText } from '../errors'
import { QrCode } from '../Qr'
import { register, supported } from '../webauthn'
import { RecoveryCodes } from './RecoveryCodes'

type Factor = components['schemas']['Factor']
type NewFactor = components['schemas']['NewFactor']
type Status = components['schemas']['SecondFactorStatus']

/** factorError says why a change to a factor was refused. */
function factorError(err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'last_second_factor':
      case 'too_many_factors':
      case 'challenge_expired':
        return t(`security.error.${err.code}`)
      case 'validation_failed':
        if (err.fields.some((f) => f.field === 'type')) return t('security.keysUnavailable')
        if (err.fields.some((f) => f.field === 'code')) return t('factor.wrong.totp')
        if (err.fields.some((f) => f.field === 'name')) return t('security.error.name')
    }
    if (err.code === 'invalid_second_factor') return t('factor.wrong.totp')
  }
  if (err instanceof DOMException) return t(err.name === 'NotAllowedError' ? 'factor.keyCancelled' : 'factor.keyFailed')
  return errorText(err)
}

/** groups writes a TOTP secret in groups of four, easier to type. */
export function groups(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ')
}

/** Security is the page; onChanged tells the session that the factors changed (once no
 * recovery code is left on the screen: the session's reload may replace the page). */
export function Security({ mustEnrol, onChanged }: { mustEnrol: boolean; onChanged: () => void }) {
  useLocale()
  const [factors, setFactors] = useState<Factor[] | null>(null)
  const [status, setStatus] = useState<Status | null>(null)
  const [error, setError] = useState('')
  const [notice, setNotice] = useState('')
  const [adding, setAdding] = useState<NewFactor | null>(null)
  const [codes, setCodes] = useState<string[] | null>(null)
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)

  const reload = () =>
    Promise.all([must(api.GET('/me/factors')), must(api.GET('/me'))])
      .then(([f, me]) => {
        setFactors(f.items)
        setStatus(me.second_factor)
      })
      .catch((e) => setError(errorText(e)))
  useEffect(() => {
    reload()
  }, [])

  function say(text: string) {
    setError('')
    setNotice(text)
  }

  async function activated(f: components['schemas']['ActivatedFactor']) {
    setAdding(null)
    setName('')
    say(t('security.added', { name: f.name }))
    if (f.recovery_codes?.length) setCodes(f.recovery_codes)
    await reload()
    if (!f.recovery_codes?.length) onChanged()
  }

  async function addApp() {
    setBusy(true)
    try {
      setAdding(await must(api.POST('/me/factors', { body: { type: 'totp', name: name.trim() || undefined } })))
      setError('')
      setNotice('')
    } catch (err) {
      setError(factorError(err))
    } finally {
      setBusy(false)
    }
  }

  async function addKey() {
    setBusy(true)
    let created: NewFactor | null = null
    try {
      created = await must(api.POST('/me/factors', { body: { type: 'webauthn', name: name.trim() || undefined } }))
      const credential = await register(created.webauthn!)
      const f = await must(api.POST('/me/factors/{id}/activate', { params: { path: { id: created.id } }, body: { credential } }))
      await activated(f)
    } catch (err) {
      setNotice('')
      setError(factorError(err))
      // A key that was not registered leaves a pending factor: remove it.
      if (created) await api.DELETE('/me/factors/{id}', { params: { path: { id: created.id } } }).catch(() => {})
      await reload()
    } finally {
      setBusy(false)
    }
  }

  async function cancelApp() {
    const f = adding
    setAdding(null)
    if (f) await api.DELETE('/me/factors/{id}', { params: { path: { id: f.id } } }).catch(() => {})
    await reload()
  }

  async function newCodes() {
    if (!window.confirm(t('security.confirmNewCodes'))) return
    try {
      const r = await must(api.POST('/me/recovery-codes'))
      setCodes(r.recovery_codes)
      say(t('security.newCodes'))
      await reload()
    } catch (err) {
      setError(factorError(err))
    }
  }

  const active = (factors ?? []).filter((f) => f.active)
  const enrolled = status?.enrolled ?? active.length > 0

  if (codes) {
    return (
      <main id="main">
        <h1>{t('security.title')}</h1>
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        <RecoveryCodes
          codes={codes}
          onSaved={() => {
            setCodes(null)
            setNotice('')
            onChanged()
          }}
        />
      </main>
    )
  }

  return (
    <main id="main">
      <h1>{t('security.title')}</h1>
      {mustEnrol && (
        <p class="banner" data-testid="enrolment-required">
          {t('security.mustEnrol')}
        </p>
      )}
      <p>{t('security.intro')}</p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <section aria-labelledby="factors">
        <h2 id="factors">{t('security.factors')}</h2>
        {factors === null ? (
          <p aria-live="polite">{t('home.loading')}</p>
        ) : factors.length === 0 ? (
          <p class="muted">{t('security.none')}</p>
        ) : (
          <ul class="cards">
            {factors.map((f) => (
              <FactorItem
                key={f.id}
                factor={f}
                last={f.active && active.length === 1}
                onChanged={async (text) => {
                  say(text)
                  await reload()
                  onChanged()
                }}
              />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="add">
        <h2 id="add">{t('security.add')}</h2>
        {adding ? (
          <TotpEnrolment factor={adding} onActivated={activated} onCancel={cancelApp} />
        ) : (
          <div class="narrow-form">
            <label for="factor-name">{t('security.name')}</label>
            <input id="factor-name" value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
            <p class="muted">{t('security.appHelp')}</p>
            <button type="button" class="primary" onClick={addApp} disabled={busy}>
              {t('security.addApp')}
            </button>
            <p class="muted">{t('security.keyHelp')}</p>
            {supported() ? (
              <button type="button" onClick={addKey} disabled={busy}>
                {t('security.addKey')}
              </button>
            ) : (
              <p class="muted">{t('security.keyUnsupported')}</p>
            )}
          </div>
        )}
      </section>
      {enrolled && status && (
        <section aria-labelledby="recovery">
          <h2 id="recovery">{t('security.recovery')}</h2>
          <p>{t('security.recoveryLeft', { count: status.recovery_codes_left })}</p>
          <button type="button" onClick={newCodes}>
            {t('security.makeNewCodes')}
          </button>
        </section>
      )}
    </main>
  )
}

/** TotpEnrolment shows the new authenticator app's secret (as a QR code and as text)
 * and confirms it with the first code the app shows. */
function TotpEnrolment({
  factor,
  onActivated,
  onCancel,
}: {
  factor: NewFactor
  onActivated: (f: components['schemas']['ActivatedFactor']) => Promise<void>
  onCancel: () => void
}) {
  const [code, setCode] = useState('')
  const [error, setError] = useState('')
  const [copied, setCopied] = useState(false)
  const [busy, setBusy] = useState(false)
  const heading = useRef<HTMLHeadingElement>(null)
  const field = useRef<HTMLInputElement>(null)
  useEffect(() => heading.current?.focus(), [])

  async function confirm(e: Event) {
    e.preventDefault()
    const c = code.replace(/\s+/g, '')
    if (!c) {
      setError(t('factor.missing.totp'))
      field.current?.focus()
      return
    }
    setBusy(true)
    try {
      await onActivated(await must(api.POST('/me/factors/{id}/activate', { params: { path: { id: factor.id } }, body: { code: c } })))
    } catch (err) {
      setError(factorError(err))
      field.current?.focus()
    } finally {
      setBusy(false)
    }
  }

  return (
    <div class="enrol">
      <h3 ref={heading} tabIndex={-1}>
        {t('security.appTitle')}
      </h3>
      <p>{t('security.scan')}</p>
      <QrCode text={factor.otpauth_uri ?? ''} label={t('security.qrLabel')} />
      <p>{t('security.typeSecret')}</p>
      <p>
        <code class="token secret" data-testid="totp-secret">
          {groups(factor.secret ?? '')}
        </code>{' '}
        {navigator.clipboard && (
          <button
            type="button"
            onClick={async () => {
              await navigator.clipboard.writeText(factor.secret ?? '')
              setCopied(true)
            }}
          >
            {t('security.copySecret')}
          </button>
        )}
        {copied && <span role="status"> {t('tokens.copied')}</span>}
      </p>
      <form class="narrow-form" onSubmit={confirm} noValidate>
        <label for="totp-code">{t('security.firstCode')}</label>
        <input
          ref={field}
          id="totp-code"
          type="text"
          inputMode="numeric"
          autocomplete="one-time-code"
          maxLength={8}
          value={code}
          aria-invalid={!!error}
          aria-describedby={error ? 'totp-code-error' : undefined}
          onInput={(e) => setCode(e.currentTarget.value)}
        />
        {error && (
          <p id="totp-code-error" class="error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {t('security.confirmApp')}
          </button>
          <button type="button" onClick={onCancel}>
            {t('confirm.cancel')}
          </button>
        </div>
      </form>
    </div>
  )
}

/** FactorItem is one factor, with its rename and its removal (confirmed first). */
function FactorItem({ factor, last, onChanged }: { factor: Factor; last: boolean; onChanged: (text: string) => Promise<void> }) {
  const [renaming, setRenaming] = useState(false)
  const [name, setName] = useState(factor.name)
  const [removing, setRemoving] = useState(false)
  const [error, setError] = useState('')
  const label = factor.name || t(factor.type === 'totp' ? 'security.type.totp' : 'security.type.webauthn')

  async function rename(e: Event) {
    e.preventDefault()
    try {
      await must(api.PATCH('/me/factors/{id}', { params: { path: { id: factor.id } }, body: { name: name.trim() } }))
      setRenaming(false)
      setError('')
      await onChanged(t('security.renamed', { name: name.trim() }))
    } catch (err) {
      setError(factorError(err))
    }
  }

  async function remove() {
    try {
      await must(api.DELETE('/me/factors/{id}', { params: { path: { id: factor.id } } }))
      setRemoving(false)
      await onChanged(t('security.removed', { name: label }))
    } catch (err) {
      setRemoving(false)
      setError(factorError(err))
    }
  }

  return (
    <li class="card">
      <span class="title">{label}</span>
      <span class="meta">
        {t(factor.type === 'totp' ? 'security.type.totp' : 'security.type.webauthn')} ·{' '}
        {factor.active ? t('security.addedOn', { date: formatDate(factor.activated_at ?? factor.created_at) }) : t('security.pending')}
        {factor.active && <> · {factor.last_used_at ? t('tokens.lastUsed', { date: formatDate(factor.last_used_at) }) : t('tokens.neverUsed')}</>}
      </span>
      {renaming ? (
        <form class="inline" onSubmit={rename}>
          <label>
            {t('security.newName', { name: label })}{' '}
            <input value={name} maxLength={100} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit">{t('security.saveName')}</button>
          <button type="button" onClick={() => setRenaming(false)}>
            {t('confirm.cancel')}
          </button>
        </form>
      ) : (
        <span class="actions">
          {factor.active && (
            <button type="button" onClick={() => setRenaming(true)}>
              {t('security.rename', { name: label })}
            </button>
          )}
          <button type="button" onClick={() => setRemoving(true)}>
            {t('security.remove', { name: label })}
          </button>
        </span>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {removing && <ConfirmRemoval name={label} last={last} onConfirm={remove} onCancel={() => setRemoving(false)} />}
    </li>
  )
}

/** ConfirmRemoval says what removing a factor does before it is done. */
function ConfirmRemoval({ name, last, onConfirm, onCancel }: { name: string; last: boolean; onConfirm: () => Promise<void>; onCancel: () => void }) {
  const ref = useRef<HTMLDialogElement>(null)
  const [busy, setBusy] = useState(false)
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null
    ref.current?.showModal()
    return () => before?.focus?.()
  }, [])
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="remove-title"
      onCancel={(e) => {
        e.preventDefault()
        onCancel()
      }}
    >
      <h2 id="remove-title">{t('security.removeTitle', { name })}</h2>
      <p>{t('security.removeWhat')}</p>
      {last && <p class="banner">{t('security.removeLast')}</p>}
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy}
          onClick={async () => {
            setBusy(true)
            await onConfirm()
          }}
        >
          {t('security.removeConfirm')}
        </button>
        <button type="button" onClick={onCancel}>
          {t('confirm.cancel')}
        </button>
      </div>
    </dialog>
  )
}
