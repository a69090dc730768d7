// The ILO's correspondence (ADR 0036) as the screens show it: a case's thread as rows,
// the words for kinds, statuses and sender checks, and the mailbox form's field errors.
// Pure functions, unit-tested; the pages are in pages/Correspondence.tsx and Mailbox.tsx.
import type { components } from './api/schema'
import type { FieldError } from './api/client'
import type { MessageKey } from './i18n/en'

export type ThreadEntry = components['schemas']['ThreadEntry']
export type Item = components['schemas']['CorrespondenceItem']
export type Kind = Item['kind']
export type Dispatch = components['schemas']['Dispatch']

export const kinds: Kind[] = ['acknowledgement', 'request_for_information', 'government_observations', 'committee_report', 'other']

/** kindKey names a kind of message in the catalogues. */
export const kindKey = (k: Kind): MessageKey => `corr.kind.${k}`

/** A row of the thread: a letter sent, or a message received. */
export type Row =
  | { type: 'dispatch'; id: string; at: string; dispatch: Dispatch; stateKey: MessageKey }
  | {
      type: 'message'
      id: string
      at: string
      /** date is the message's own date (its Date header), else when it was imported. */
      date: string
      item: Item
      kindKey: MessageKey
      files: number
      warning: boolean
      open: boolean
    }

const dispatchState: Record<Dispatch['state'], MessageKey> = {
  queued: 'corr.dispatch.queued',
  sent: 'corr.dispatch.sent',
  failed: 'corr.dispatch.failed',
}

/** threadRows turns the API's thread into rows, oldest first (the API's order, kept
 * stable for equal times), skipping entries without their record. */
export function threadRows(entries: ThreadEntry[]): Row[] {
  const rows: Row[] = []
  entries.forEach((e) => {
    if (e.type === 'dispatch' && e.dispatch) {
      rows.push({ type: 'dispatch', id: e.dispatch.id, at: e.at, dispatch: e.dispatch, stateKey: dispatchState[e.dispatch.state] })
    } else if (e.type === 'correspondence' && e.correspondence) {
      const it = e.correspondence
      rows.push({
        type: 'message',
        id: it.id,
        at: e.at,
        date: messageDate(it),
        item: it,
        kindKey: kindKey(it.kind),
        files: it.files?.length ?? 0,
        warning: it.sender_warning,
        open: it.status === 'open',
      })
    }
  })
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => Date.parse(a.r.at) - Date.parse(b.r.at) || a.i - b.i)
    .map((x) => x.r)
}

/** messageDate is the date a message bears, or when it was imported if it has none. */
export function messageDate(it: Pick<Item, 'sent_at' | 'received_at'>): string {
  return it.sent_at || it.received_at
}

/** A sender check as the details block explains it. */
export interface Check {
  name: 'SPF' | 'DKIM' | 'DMARC'
  result: string
  /** resultKey says the result in words; other results are shown as the server gave them. */
  resultKey: MessageKey
  /** explainKey says what the check means, in plain words. */
  explainKey: MessageKey
  passed: boolean
}

const resultKeys: Record<string, MessageKey> = {
  pass: 'corr.auth.result.pass',
  fail: 'corr.auth.result.fail',
  softfail: 'corr.auth.result.fail',
  none: 'corr.auth.result.none',
}

/** checks lists SPF, DKIM and DMARC with their results. */
export function checks(it: Pick<Item, 'spf' | 'dkim' | 'dmarc'>): Check[] {
  const one = (name: Check['name'], result: string, explainKey: MessageKey): Check => {
    const r = (result || 'none').toLowerCase()
    return { name, result: r, resultKey: resultKeys[r] ?? 'corr.auth.result.other', explainKey, passed: r === 'pass' }
  }
  return [
    one('SPF', it.spf, 'corr.auth.spf'),
    one('DKIM', it.dkim, 'corr.auth.dkim'),
    one('DMARC', it.dmarc, 'corr.auth.dmarc'),
  ]
}

/** trustKey sums up whether the sender is vouched for; a warning comes first. */
export function trustKey(it: Pick<Item, 'authenticated' | 'sender_warning'>): MessageKey {
  if (it.sender_warning) return 'corr.warning.badge'
  return it.authenticated ? 'corr.auth.authenticated' : 'corr.auth.notAuthenticated'
}

/** The mailbox form's fields, as the API names them. */
export const mailboxFields = ['host', 'port', 'tls', 'username', 'password', 'folder', 'after_import', 'move_to', 'trusted_authserv_id'] as const
export type MailboxField = (typeof mailboxFields)[number]

/** mailboxErrors places the API's field errors at the mailbox form's fields, in the
 * user's language (the key of each field's hint). Errors of fields the form does not
 * have are returned apart, in the API's words, to show above the button. */
export function mailboxErrors(fields: FieldError[]): { at: Partial<Record<MailboxField, MessageKey>>; other: string[] } {
  const at: Partial<Record<MailboxField, MessageKey>> = {}
  const other: string[] = []
  for (const f of fields) {
    if (!(mailboxFields as readonly string[]).includes(f.field)) {
      other.push(`${f.field}: ${f.message}`)
      continue
    }
    const field = f.field as MailboxField
    if (at[field]) continue
    // The password is refused for two reasons: missing while enabling, or malformed.
    at[field] = field === 'password' && f.message.startsWith('required') ? 'mailbox.error.passwordRequired' : (`mailbox.error.${field}` as MessageKey)
  }
  return { at, other }
}
