import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { locale, t, useLocale } from '../i18n'
import { errorText } from '../errors'
import { daysLeftKey, formatDay, sessionErrors, urgent, type SessionInput } from '../calendar'
import { Feedback } from '../Feedback'

type Session = components['schemas']['CFASession']
type NextDeadline = components['schemas']['NextDeadline']

/** DeadlineText says when the next information deadline is, with the days left as text
 * (and the last days marked as a second cue). */
export function DeadlineText({ next }: { next: NextDeadline }) {
  const left = t(daysLeftKey(next.days_left), { count: next.days_left })
  return (
    <span class={urgent(next.days_left) ? 'deadline urgent' : 'deadline'} data-testid="next-deadline">
      {t('calendar.next', { session: next.session_name, date: formatDay(next.deadline, locale()), left })}
    </span>
  )
}

const empty: SessionInput = { name: '', starts_on: '', deadline: '' }

/** CFASessions is the tenant admins' screen of the CFA calendar: the sessions, to add,
 * edit and delete (after confirmation). */
export function CFASessions({ tenant }: { tenant: string }) {
  const lang = useLocale()
  const [sessions, setSessions] = useState<Session[]>([])
  const [form, setForm] = useState<SessionInput>(empty)
  const [editing, setEditing] = useState<string | null>(null)
  const [errors, setErrors] = useState<Partial<Record<keyof SessionInput, string>>>({})
  const [error, setError] = useState('')
  const [status, setStatus] = useState('')

  const load = () =>
    must(api.GET('/tenants/{tenant}/cfa-sessions', { params: { path: { tenant } } }))
      .then((l) => setSessions(l.items))
      .catch((e) => setError(errorText(e)))
  useEffect(() => {
    void load()
  }, [tenant])

  async function save(e: Event) {
    e.preventDefault()
    setError('')
    setStatus('')
    const found = sessionErrors(form)
    setErrors(Object.fromEntries(found.map((f) => [f.field, t(f.key)])))
    if (found.length) return
    try {
      if (editing) {
        await must(api.PUT('/tenants/{tenant}/cfa-sessions/{id}', { params: { path: { tenant, id: editing } }, body: form }))
      } else {
        await must(api.POST('/tenants/{tenant}/cfa-sessions', { params: { path: { tenant } }, body: form }))
      }
      setForm(empty)
      setEditing(null)
      setStatus(t('calendar.saved'))
      await load()
    } catch (err) {
      if (err instanceof ApiError && err.fields.length) {
        setErrors(Object.fromEntries(err.fields.map((f) => [f.field, f.message])))
      } else {
        setError(errorText(err))
      }
    }
  }

  async function remove(s: Session) {
    if (!window.confirm(t('calendar.confirmDelete', { name: s.name }))) return
    setError('')
    try {
      await must(api.DELETE('/tenants/{tenant}/cfa-sessions/{id}', { params: { path: { tenant, id: s.id } } }))
      setStatus(t('calendar.deleted'))
      await load()
    } catch (err) {
      setError(errorText(err))
    }
  }

  const field = (id: keyof SessionInput, label: string, type: 'text' | 'date') => {
    const props = {
      id: 'cfa-' + id,
      value: form[id],
      'aria-invalid': errors[id] ? ('true' as const) : undefined,
      'aria-describedby': errors[id] ? 'cfa-' + id + '-error' : undefined,
      onInput: (e: Event) => setForm({ ...form, [id]: (e.currentTarget as HTMLInputElement).value }),
    }
    return (
      <>
        <label for={'cfa-' + id}>{label}</label>
        {type === 'date' ? <input type="date" {...props} /> : <input type="text" {...props} />}
        {errors[id] && (
          <p id={'cfa-' + id + '-error'} class="error">
            {errors[id]}
          </p>
        )}
      </>
    )
  }

  return (
    <section aria-labelledby="cfa-calendar" data-testid="cfa-calendar">
      <h2 id="cfa-calendar">{t('calendar.title')}</h2>
      <p class="muted">{t('calendar.intro')}</p>
      {sessions.length === 0 && <p>{t('calendar.none')}</p>}
      <table>
        <thead>
          <tr>
            <th scope="col">{t('calendar.name')}</th>
            <th scope="col">{t('calendar.startsOn')}</th>
            <th scope="col">{t('calendar.deadline')}</th>
            <th scope="col" />
          </tr>
        </thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id}>
              <td>{s.name}</td>
              <td>{formatDay(s.starts_on, lang)}</td>
              <td>{formatDay(s.deadline, lang)}</td>
              <td>
                <button
                  type="button"
                  class="link"
                  onClick={() => {
                    setEditing(s.id)
                    setForm({ name: s.name, starts_on: s.starts_on, deadline: s.deadline })
                    setErrors({})
                  }}
                >
                  {t('calendar.edit', { name: s.name })}
                </button>{' '}
                <button type="button" class="link danger" onClick={() => void remove(s)}>
                  {t('calendar.delete', { name: s.name })}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Feedback status={status} error={error} />
      <form class="narrow-form" onSubmit={save} noValidate>
        {field('name', t('calendar.name'), 'text')}
        {field('starts_on', t('calendar.startsOn'), 'date')}
        {field('deadline', t('calendar.deadline'), 'date')}
        <button type="submit">{editing ? t('calendar.save') : t('calendar.add')}</button>
        {editing && (
          <button
            type="button"
            onClick={() => {
              setEditing(null)
              setForm(empty)
              setErrors({})
            }}
          >
            {t('calendar.cancel')}
          </button>
        )}
      </form>
    </section>
  )
}
