import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, must } from '../api/client'
import type { components } from '../api/schema'
import { t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { CFASessions } from './Calendar'
import { SecurityPolicy } from './AdminSecurity'
import { MailboxSettings } from './Mailbox'

type Settings = components['schemas']['Settings']
type Recipient = components['schemas']['Recipient']
type Member = components['schemas']['Member']
type Organization = components['schemas']['Organization']
type Role = Member['roles'][number]
const roles: Role[] = ['tenant_admin', 'reviewer', 'signatory', 'editor', 'viewer']

/** problemText lists the fields the API named, or says what went wrong. */
function problemText(err: unknown): string {
  if (err instanceof ApiError && err.fields.length) return t('error.fields', { fields: err.fields.map((f) => `${f.field}: ${f.message}`).join('; ') })
  return errorText(err)
}

const recipientList = (rs: Recipient[]) => rs.map((r) => `${r.address} (${r.kind})`).join(', ') || '—'

type Retention = Settings['retention']
/** deletesMore reports whether next deletes something sooner than before did (0 is never). */
export function deletesMore(before: Retention, next: Retention): boolean {
  const sooner = (was: number, now: number) => now > 0 && (was === 0 || now < was)
  return (
    sooner(before.draft_days, next.draft_days) ||
    sooner(before.closed_days, next.closed_days) ||
    sooner(before.dispatched_years, next.dispatched_years)
  )
}

/** Admin: the tenant's settings, its members and their roles, and invitations. */
export function Admin({ tenant }: { tenant: string }) {
  useLocale()
  return (
    <main id="main">
      <h1>{t('admin.title')}</h1>
      <p>
        <a href={`/t/${encodeURIComponent(tenant)}/audit`}>{t('audit.link')}</a>
      </p>
      <SettingsForm tenant={tenant} />
      <SecurityPolicy tenant={tenant} />
      <Organizations tenant={tenant} />
      <Members tenant={tenant} />
      <CFASessions tenant={tenant} />
      <MailboxSettings tenant={tenant} />
    </main>
  )
}

function SettingsForm({ tenant }: { tenant: string }) {
  const [st, setSt] = useState<Settings | null>(null)
  const [saved, setSaved] = useState<Settings | null>(null)
  const [status, setStatus] = useState('')
  const [error, setError] = useState('')
  useEffect(() => {
    must(api.GET('/tenants/{tenant}/settings', { params: { path: { tenant } } }))
      .then((s) => {
        setSt(s)
        setSaved(s)
      })
      .catch((e) => setError(errorText(e)))
  }, [tenant])
  if (!st) return error ? <p class="error" role="alert">{error}</p> : null
  const d = st.dispatch
  const setD = (patch: Partial<Settings['dispatch']>) => setSt({ ...st, dispatch: { ...d, ...patch } })
  const ret = st.retention
  const setRet = (patch: Partial<Settings['retention']>) => setSt({ ...st, retention: { ...ret, ...patch } })
  const setR = (i: number, patch: Partial<Recipient>) => setD({ recipients: d.recipients.map((r, j) => (j === i ? { ...r, ...patch } : r)) })

  async function save(e: Event) {
    e.preventDefault()
    // Changing where letters go is an act that matters: say what will happen first.
    if (saved && recipientList(saved.dispatch.recipients) !== recipientList(d.recipients)) {
      if (!window.confirm(t('admin.confirmRecipients', { list: recipientList(d.recipients) }))) return
    }
    // So is deleting for good: say so before a policy that deletes more takes effect.
    if (saved && deletesMore(saved.retention, ret)) {
      if (!window.confirm(t('admin.confirmRetention'))) return
    }
    try {
      const s = await must(api.PUT('/tenants/{tenant}/settings', { params: { path: { tenant } }, body: st! }))
      setSt(s)
      setSaved(s)
      setError('')
      setStatus(t('admin.saved'))
    } catch (err) {
      setStatus('')
      setError(problemText(err))
    }
  }

  const field = (id: string, label: MessageKey, value: string, on: (v: string) => void, type: 'text' | 'email' = 'text') => (
    <>
      <label for={id}>{t(label)}</label>
      {type === 'email' ? (
        <input id={id} type="email" value={value} onInput={(e) => on(e.currentTarget.value)} />
      ) : (
        <input id={id} type="text" value={value} onInput={(e) => on(e.currentTarget.value)} />
      )}
    </>
  )
  // A retention period: a number (0: never), with what it means below it.
  const period = (id: string, label: MessageKey, help: MessageKey, value: number, max: number, on: (v: number) => void) => (
    <>
      <label for={id}>{t(label)}</label>
      <input id={id} type="number" min={0} max={max} step={1} value={value} aria-describedby={id + '-help'}
        onInput={(e) => on(Math.trunc(Number(e.currentTarget.value) || 0))} />
      <p id={id + '-help'} class="muted">{t(help)}</p>
    </>
  )
  return (
    <section aria-labelledby="settings">
      <h2 id="settings">{t('admin.settings')}</h2>
      {d.sandbox && <p class="banner">{t('sandbox.banner', { address: d.sandbox_recipient || '—' })}</p>}
      <form class="narrow-form wide" onSubmit={save}>
        <label for="approvals">{t('admin.approvals')}</label>
        <input id="approvals" type="number" min={1} max={10} value={st.workflow.required_approvals}
          onInput={(e) => setSt({ ...st, workflow: { ...st.workflow, required_approvals: Number(e.currentTarget.value) } })} />
        <label class="check">
          <input type="checkbox" checked={st.workflow.require_signatory}
            onChange={(e) => setSt({ ...st, workflow: { ...st.workflow, require_signatory: e.currentTarget.checked } })} />
          {t('admin.requireSignatory')}
        </label>
        <label class="check">
          <input type="checkbox" checked={d.sandbox} onChange={(e) => setD({ sandbox: e.currentTarget.checked })} />
          {t('admin.sandbox')}
        </label>
        {field('sandbox-recipient', 'admin.sandboxRecipient', d.sandbox_recipient, (v) => setD({ sandbox_recipient: v }), 'email')}
        {field('from-name', 'admin.fromName', d.from.name, (v) => setD({ from: { ...d.from, name: v } }))}
        {field('from-address', 'admin.fromAddress', d.from.address, (v) => setD({ from: { ...d.from, address: v } }), 'email')}
        {field('reply-to', 'admin.replyTo', d.reply_to, (v) => setD({ reply_to: v }), 'email')}
        <fieldset>
          <legend>{t('admin.recipients')}</legend>
          {d.recipients.map((r, i) => (
            <div class="recipient" key={i}>
              {field(`r${i}-name`, 'admin.recipientName', r.name, (v) => setR(i, { name: v }))}
              {field(`r${i}-title`, 'admin.recipientTitle', r.title, (v) => setR(i, { title: v }))}
              {field(`r${i}-address`, 'admin.recipientAddress', r.address, (v) => setR(i, { address: v }), 'email')}
              <label for={`r${i}-kind`}>{t('admin.recipientKind')}</label>
              <select id={`r${i}-kind`} value={r.kind} onChange={(e) => setR(i, { kind: e.currentTarget.value as Recipient['kind'] })}>
                <option value="to">to</option>
                <option value="cc">cc</option>
                <option value="bcc">bcc</option>
              </select>
              <button type="button" onClick={() => setD({ recipients: d.recipients.filter((_, j) => j !== i) })}>
                {t('admin.removeRecipient', { number: i + 1 })}
              </button>
            </div>
          ))}
          <button type="button" onClick={() => setD({ recipients: [...d.recipients, { name: '', title: '', address: '', kind: 'to' }] })}>
            {t('admin.addRecipient')}
          </button>
        </fieldset>
        {field('letterhead', 'admin.letterhead', d.letterhead.organization, (v) => setD({ letterhead: { ...d.letterhead, organization: v } }))}
        <label for="address-lines">{t('admin.addressLines')}</label>
        <textarea id="address-lines" rows={4} value={d.letterhead.address_lines.join('\n')}
          onInput={(e) => setD({ letterhead: { ...d.letterhead, address_lines: e.currentTarget.value.split('\n') } })} />
        {field('place', 'admin.place', d.letterhead.place, (v) => setD({ letterhead: { ...d.letterhead, place: v } }))}
        {field('signatory', 'admin.signatoryName', d.signatory.name, (v) => setD({ signatory: { ...d.signatory, name: v } }))}
        {field('signatory-title', 'admin.signatoryTitle', d.signatory.title, (v) => setD({ signatory: { ...d.signatory, title: v } }))}
        <fieldset aria-describedby="retention-intro">
          <legend>{t('admin.retention')}</legend>
          <p id="retention-intro" class="muted">{t('admin.retentionIntro')}</p>
          {period('draft-days', 'admin.draftDays', 'admin.draftDaysHelp', ret.draft_days, 3650, (v) => setRet({ draft_days: v }))}
          {period('closed-days', 'admin.closedDays', 'admin.closedDaysHelp', ret.closed_days, 3650, (v) => setRet({ closed_days: v }))}
          {period('dispatched-years', 'admin.dispatchedYears', 'admin.dispatchedYearsHelp', ret.dispatched_years, 100, (v) =>
            setRet({ dispatched_years: v }),
          )}
        </fieldset>
        {error && <p class="error" role="alert">{error}</p>}
        {status && <p class="notice" role="status">{status}</p>}
        <button type="submit" class="primary">{t('admin.save')}</button>
      </form>
    </section>
  )
}

function Members({ tenant }: { tenant: string }) {
  const [members, setMembers] = useState<Member[]>([])
  const [orgs, setOrgs] = useState<Organization[]>([])
  const [error, setError] = useState('')
  const [status, setStatus] = useState('')
  const [invite, setInvite] = useState({ email: '', name: '', organization_id: '', password: '', roles: ['editor'] as Role[] })

  const reload = () =>
    Promise.all([
      must(api.GET('/tenants/{tenant}/users', { params: { path: { tenant }, query: { limit: 100 } } })),
      must(api.GET('/tenants/{tenant}/organizations', { params: { path: { tenant }, query: { limit: 100 } } })),
    ])
      .then(([m, o]) => {
        setMembers(m.items)
        setOrgs(o.items)
        setInvite((v) => ({ ...v, organization_id: v.organization_id || o.items[0]?.id || '' }))
      })
      .catch((e) => setError(errorText(e)))
  useEffect(() => {
    reload()
  }, [tenant])

  async function saveRoles(m: Member, next: Role[]) {
    try {
      await must(api.PATCH('/tenants/{tenant}/users/{id}', { params: { path: { tenant, id: m.id } }, body: { roles: next } }))
      setError('')
      await reload()
    } catch (err) {
      setError(problemText(err))
    }
  }

  async function deactivate(m: Member) {
    try {
      await must(api.DELETE('/tenants/{tenant}/users/{id}', { params: { path: { tenant, id: m.id } } }))
      await reload()
    } catch (err) {
      setError(problemText(err))
    }
  }

  async function sendInvite(e: Event) {
    e.preventDefault()
    try {
      await must(api.POST('/tenants/{tenant}/users', { params: { path: { tenant } }, body: invite }))
      setStatus(t('admin.invited', { email: invite.email }))
      setError('')
      setInvite({ ...invite, email: '', name: '', password: '' })
      await reload()
    } catch (err) {
      setStatus('')
      setError(problemText(err))
    }
  }

  const orgName = (id: string) => orgs.find((o) => o.id === id)?.name ?? ''
  return (
    <section aria-labelledby="members">
      <h2 id="members">{t('admin.members')}</h2>
      {error && <p class="error" role="alert">{error}</p>}
      {status && <p class="notice" role="status">{status}</p>}
      <ul class="cards">
        {members.map((m) => (
          <li key={m.id} class="card">
            <span class="title">
              {m.name} <span class="muted">&lt;{m.email}&gt;</span> {!m.active && <span class="muted">({t('admin.inactive')})</span>}
            </span>
            <span class="meta">{orgName(m.organization_id)}</span>
            {m.active && <MemberRoles member={m} onSave={(r) => saveRoles(m, r)} onDeactivate={() => deactivate(m)} />}
          </li>
        ))}
      </ul>
      <h3>{t('admin.invite')}</h3>
      <form class="narrow-form" onSubmit={sendInvite}>
        <label for="invite-email">{t('admin.email')}</label>
        <input id="invite-email" type="email" value={invite.email} onInput={(e) => setInvite({ ...invite, email: e.currentTarget.value })} />
        <label for="invite-name">{t('admin.name')}</label>
        <input id="invite-name" value={invite.name} onInput={(e) => setInvite({ ...invite, name: e.currentTarget.value })} />
        <label for="invite-org">{t('admin.organization')}</label>
        <select id="invite-org" value={invite.organization_id} onChange={(e) => setInvite({ ...invite, organization_id: e.currentTarget.value })}>
          {orgs.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
        </select>
        <fieldset>
          <legend>{t('admin.roles', { name: invite.email || '…' })}</legend>
          {roles.map((r) => (
            <label class="check" key={r}>
              <input type="checkbox" checked={invite.roles.includes(r)}
                onChange={(e) => setInvite({ ...invite, roles: e.currentTarget.checked ? [...invite.roles, r] : invite.roles.filter((x) => x !== r) })} />
              {t(('role.' + r) as MessageKey)}
            </label>
          ))}
        </fieldset>
        <label for="invite-password">{t('admin.password')}</label>
        <input id="invite-password" type="password" autocomplete="new-password" value={invite.password} onInput={(e) => setInvite({ ...invite, password: e.currentTarget.value })} />
        <button type="submit" class="primary">{t('admin.sendInvite')}</button>
      </form>
    </section>
  )
}

function MemberRoles({ member, onSave, onDeactivate }: { member: Member; onSave: (r: Role[]) => void; onDeactivate: () => void }) {
  const [sel, setSel] = useState<Role[]>(member.roles)
  return (
    <fieldset class="roles">
      <legend>{t('admin.roles', { name: member.name })}</legend>
      {roles.map((r) => (
        <label class="check" key={r}>
          <input type="checkbox" checked={sel.includes(r)} onChange={(e) => setSel(e.currentTarget.checked ? [...sel, r] : sel.filter((x) => x !== r))} />
          {t(('role.' + r) as MessageKey)}
        </label>
      ))}
      <button type="button" onClick={() => onSave(sel)}>{t('admin.saveRoles', { name: member.name })}</button>{' '}
      <button type="button" onClick={onDeactivate}>{t('admin.deactivate', { name: member.name })}</button>
    </fieldset>
  )
}

function Organizations({ tenant }: { tenant: string }) {
  const [orgs, setOrgs] = useState<Organization[]>([])
  const [name, setName] = useState('')
  const [country, setCountry] = useState('')
  const [kind, setKind] = useState<Organization['kind']>('affiliate')
  const [error, setError] = useState('')
  const [status, setStatus] = useState('')
  const reload = () =>
    must(api.GET('/tenants/{tenant}/organizations', { params: { path: { tenant }, query: { limit: 100 } } }))
      .then((l) => setOrgs(l.items))
      .catch((e) => setError(errorText(e)))
  useEffect(() => {
    reload()
  }, [tenant])

  async function add(e: Event) {
    e.preventDefault()
    try {
      const o = await must(api.POST('/tenants/{tenant}/organizations', { params: { path: { tenant } }, body: { name, country: country.toUpperCase(), kind } }))
      setStatus(t('admin.orgAdded', { name: o.name }))
      setError('')
      setName('')
      setCountry('')
      await reload()
    } catch (err) {
      setStatus('')
      setError(problemText(err))
    }
  }

  return (
    <section aria-labelledby="organizations">
      <h2 id="organizations">{t('admin.organizations')}</h2>
      <ul>
        {orgs.map((o) => (
          <li key={o.id}>
            {o.name} ({o.country}, {o.kind === 'secretariat' ? t('admin.secretariat') : t('admin.affiliate')})
          </li>
        ))}
      </ul>
      {error && <p class="error" role="alert">{error}</p>}
      {status && <p class="notice" role="status">{status}</p>}
      <form class="narrow-form" onSubmit={add}>
        <label for="org-name">{t('admin.orgName')}</label>
        <input id="org-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="org-country">{t('admin.orgCountry')}</label>
        <input id="org-country" value={country} maxLength={2} onInput={(e) => setCountry(e.currentTarget.value)} />
        <label for="org-kind">{t('admin.orgKind')}</label>
        <select id="org-kind" value={kind} onChange={(e) => setKind(e.currentTarget.value as Organization['kind'])}>
          <option value="affiliate">{t('admin.affiliate')}</option>
          <option value="secretariat">{t('admin.secretariat')}</option>
        </select>
        <button type="submit">{t('admin.addOrg')}</button>
      </form>
    </section>
  )
}
