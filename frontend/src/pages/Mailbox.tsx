// Administration: the IMAP mailbox the portal reads for the ILO's answers (ADR 0036).
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { formatDate, formatNumber, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { mailboxErrors, type MailboxField } from '../correspondence'
import { useRoles } from './Correspondence'
import { Feedback } from '../Feedback'

type Settings = components['schemas']['MailboxSettings']
type Input = components['schemas']['PutMailboxRequest']

const formOf = (s: Settings): Input => ({
  enabled: s.enabled,
  host: s.host,
  port: s.port || 993,
  tls: s.tls || 'implicit',
  username: s.username,
  folder: s.folder || 'INBOX',
  after_import: s.after_import || 'leave',
  move_to: s.move_to,
  trusted_authserv_id: s.trusted_authserv_id,
})

/** MailboxSettings is the tenant admins' form for the mailbox: the password is only
 * ever written (the form says whether one is stored), and the status of the last poll. */
export function MailboxSettings({ tenant }: { tenant: string }) {
  useLocale()
  const roles = useRoles(tenant)
  const [saved, setSaved] = useState<Settings | null>(null)
  const [form, setForm] = useState<Input | null>(null)
  const [password, setPassword] = useState('')
  const [errors, setErrors] = useState<Partial<Record<MailboxField, MessageKey>>>({})
  const [error, setError] = useState('')
  const [status, setStatus] = useState('')
  const [busy, setBusy] = useState(false)

  const load = () =>
    must(api.GET('/tenants/{tenant}/mailbox', { params: { path: { tenant } } })).then((s) => {
      setSaved(s)
      return s
    })
  useEffect(() => {
    load()
      .then((s) => setForm(formOf(s)))
      .catch((e) => setError(errorText(e)))
  }, [tenant])

  if (!form || !saved) {
    return error ? (
      <section aria-labelledby="mailbox">
        <h2 id="mailbox">{t('mailbox.title')}</h2>
        <p class="error" role="alert">
          {error}
        </p>
      </section>
    ) : null
  }
  const set = (patch: Partial<Input>) => setForm({ ...form, ...patch })

  async function save(e: Event) {
    e.preventDefault()
    setBusy(true)
    setStatus('')
    setError('')
    setErrors({})
    try {
      // An empty field keeps the stored password: it is never sent back to be shown.
      const body: Input = { ...form!, port: Number(form!.port) || 0, ...(password ? { password } : {}) }
      const s = await must(api.PUT('/tenants/{tenant}/mailbox', { params: { path: { tenant } }, body }))
      setSaved(s)
      setForm(formOf(s))
      setPassword('')
      setStatus(t('mailbox.saved'))
    } catch (err) {
      // What was typed stays in the form, the password too, to correct and send again.
      if (err instanceof ApiError && err.fields.length) {
        const { at, other } = mailboxErrors(err.fields)
        setErrors(at)
        if (other.length) setError(t('error.fields', { fields: other.join('; ') }))
      } else {
        setError(errorText(err))
      }
    } finally {
      setBusy(false)
    }
  }

  async function checkNow() {
    setStatus('')
    setError('')
    try {
      await must(api.POST('/tenants/{tenant}/mailbox/poll', { params: { path: { tenant } } }))
      setStatus(t('mailbox.checkRequested'))
      setTimeout(() => void load().catch(() => {}), 4000)
    } catch (err) {
      setError(err instanceof ApiError && err.code === 'mailbox_disabled' ? t('corr.error.mailbox_disabled') : errorText(err))
    }
  }

  // A labelled control with its error below it, tied by aria-describedby.
  const described = (field: MailboxField, help?: string) => {
    const ids = [errors[field] ? `mb-${field}-error` : '', help ?? ''].filter(Boolean).join(' ')
    return { id: `mb-${field}`, 'aria-invalid': errors[field] ? ('true' as const) : undefined, 'aria-describedby': ids || undefined }
  }
  const fieldError = (field: MailboxField) =>
    errors[field] && (
      <p id={`mb-${field}-error`} class="error">
        {t(errors[field]!)}
      </p>
    )
  const text = (field: 'host' | 'username' | 'folder' | 'move_to' | 'trusted_authserv_id', label: MessageKey, help?: string) => (
    <>
      <label for={`mb-${field}`}>{t(label)}</label>
      <input type="text" {...described(field, help)} value={form[field] ?? ''} onInput={(e) => set({ [field]: e.currentTarget.value })} />
      {fieldError(field)}
    </>
  )

  return (
    <section aria-labelledby="mailbox" data-testid="mailbox">
      <h2 id="mailbox">{t('mailbox.title')}</h2>
      <p class="muted">{t('mailbox.intro')}</p>
      <h3>{t('mailbox.status')}</h3>
      <dl class="facts" data-testid="mailbox-status">
        <dt>{t('mailbox.lastPolled')}</dt>
        <dd>{saved.last_polled_at ? formatDate(saved.last_polled_at) : t('mailbox.never')}</dd>
        {saved.last_error && (
          <>
            <dt>{t('mailbox.lastError')}</dt>
            <dd class="error">{saved.last_error}</dd>
          </>
        )}
        <dt>{t('mailbox.imported')}</dt>
        <dd>{formatNumber(saved.imported)}</dd>
      </dl>
      {roles.includes('reviewer') ? (
        <p>
          <button type="button" onClick={() => void checkNow()}>
            {t('mailbox.checkNow')}
          </button>
        </p>
      ) : (
        <p class="muted">{t('mailbox.checkReviewers')}</p>
      )}
      <form class="narrow-form" onSubmit={save} noValidate>
        <label class="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          {t('mailbox.enabled')}
        </label>
        {text('host', 'mailbox.host')}
        <label for="mb-port">{t('mailbox.port')}</label>
        <input
          type="number"
          min={1}
          max={65535}
          {...described('port')}
          value={form.port}
          onInput={(e) => set({ port: Math.trunc(Number(e.currentTarget.value) || 0) })}
        />
        {fieldError('port')}
        <label for="mb-tls">{t('mailbox.tls')}</label>
        <select {...described('tls')} value={form.tls} onChange={(e) => set({ tls: e.currentTarget.value as Input['tls'] })}>
          <option value="implicit">{t('mailbox.tls.implicit')}</option>
          <option value="starttls">{t('mailbox.tls.starttls')}</option>
        </select>
        {fieldError('tls')}
        {text('username', 'mailbox.username')}
        <label for="mb-password">{t('mailbox.password')}</label>
        <input
          type="password"
          autocomplete="new-password"
          {...described('password', 'mb-password-help')}
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
        />
        <p id="mb-password-help" class="muted" data-testid="password-hint">
          {saved.password_set ? t('mailbox.passwordStored') : t('mailbox.passwordNone')}
        </p>
        {fieldError('password')}
        {text('folder', 'mailbox.folder')}
        <label for="mb-after_import">{t('mailbox.afterImport')}</label>
        <select
          {...described('after_import')}
          value={form.after_import}
          onChange={(e) => set({ after_import: e.currentTarget.value as Input['after_import'] })}
        >
          <option value="leave">{t('mailbox.after.leave')}</option>
          <option value="flag">{t('mailbox.after.flag')}</option>
          <option value="move">{t('mailbox.after.move')}</option>
        </select>
        {fieldError('after_import')}
        {(form.after_import === 'move' || errors.move_to) && text('move_to', 'mailbox.moveTo')}
        {text('trusted_authserv_id', 'mailbox.trusted', 'mb-trusted-help')}
        <p id="mb-trusted-help" class="muted">
          {t('mailbox.trustedHelp')}
        </p>
        <Feedback status={status} error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {t('mailbox.save')}
        </button>
      </form>
    </section>
  )
}
