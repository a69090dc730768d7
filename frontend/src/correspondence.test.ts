import { describe, expect, it } from 'vitest'
import { checks, mailboxErrors, messageDate, threadRows, trustKey, type Item, type ThreadEntry } from './correspondence'

const item = (over: Partial<Item> = {}): Item => ({
  id: 'i1',
  case_id: 'c1',
  auth_source: 'verified',
  authenticated: true,
  sender_warning: false,
  dkim: 'pass',
  dmarc: 'pass',
  spf: 'pass',
  files: [],
  from_address: 'cfa@ilo.org',
  from_name: 'ILO',
  kind: 'acknowledgement',
  matched_by: 'case_number',
  message_id: '<a@ilo.org>',
  received_at: '2026-11-20T10:00:00Z',
  sent_at: '2026-11-19T08:00:00Z',
  shared: true,
  status: 'none',
  subject: 'Case No. 3386',
  updated_at: '2026-11-20T10:00:00Z',
  ...over,
})

const dispatch = (id: string, state: 'queued' | 'sent' | 'failed') => ({
  id,
  state,
  attempts: 1,
  created_at: '2026-11-01T00:00:00Z',
  deliveries: [],
  last_error: '',
  message_id: '<d@x>',
  revision: 1,
  sandbox: false,
  sent_files: [],
  submission_id: 's1',
})

describe('threadRows', () => {
  it('puts letters and messages oldest first, with their labels, badges and attachment counts', () => {
    const entries: ThreadEntry[] = [
      { type: 'correspondence', at: '2026-11-20T10:00:00Z', correspondence: item({ id: 'm2', kind: 'request_for_information', status: 'open', sender_warning: true, authenticated: false }) },
      { type: 'dispatch', at: '2026-11-02T09:00:00Z', dispatch: dispatch('d1', 'sent') },
      { type: 'correspondence', at: '2026-11-05T10:00:00Z', correspondence: item({ id: 'm1', files: [{ id: 'f', file_name: 'a.txt', content_type: 'text/plain', size: 3, sha256: 'x' }] }) },
    ]
    const rows = threadRows(entries)
    expect(rows.map((r) => r.id)).toEqual(['d1', 'm1', 'm2'])
    expect(rows[0]).toMatchObject({ type: 'dispatch', stateKey: 'corr.dispatch.sent' })
    expect(rows[1]).toMatchObject({ type: 'message', kindKey: 'corr.kind.acknowledgement', files: 1, warning: false, open: false })
    expect(rows[2]).toMatchObject({ type: 'message', kindKey: 'corr.kind.request_for_information', files: 0, warning: true, open: true })
  })

  it('keeps the order of entries at the same time, and skips entries without their record', () => {
    const at = '2026-11-05T10:00:00Z'
    const rows = threadRows([
      { type: 'correspondence', at, correspondence: item({ id: 'a' }) },
      { type: 'dispatch', at },
      { type: 'correspondence', at, correspondence: item({ id: 'b' }) },
    ])
    expect(rows.map((r) => r.id)).toEqual(['a', 'b'])
  })
})

describe('messageDate', () => {
  it("is the message's own date, else when it was imported", () => {
    expect(messageDate(item())).toBe('2026-11-19T08:00:00Z')
    expect(messageDate(item({ sent_at: null }))).toBe('2026-11-20T10:00:00Z')
  })
})

describe('sender checks', () => {
  it('names each result in words, passing unknown ones through', () => {
    const c = checks(item({ spf: 'softfail', dkim: 'none', dmarc: 'temperror' }))
    expect(c.map((x) => [x.name, x.resultKey, x.passed])).toEqual([
      ['SPF', 'corr.auth.result.fail', false],
      ['DKIM', 'corr.auth.result.none', false],
      ['DMARC', 'corr.auth.result.other', false],
    ])
    expect(c[2].result).toBe('temperror')
    expect(checks(item()).every((x) => x.passed)).toBe(true)
  })

  it('puts the warning before anything else', () => {
    expect(trustKey(item({ sender_warning: true, authenticated: false }))).toBe('corr.warning.badge')
    expect(trustKey(item())).toBe('corr.auth.authenticated')
    expect(trustKey(item({ authenticated: false }))).toBe('corr.auth.notAuthenticated')
  })
})

describe('mailboxErrors', () => {
  it("places the API's errors at the form's fields, in the user's language", () => {
    const { at, other } = mailboxErrors([
      { field: 'host', message: 'expected a host name such as imap.example.org' },
      { field: 'port', message: 'expected a port from 1 to 65535' },
      { field: 'password', message: 'required to enable the mailbox' },
      { field: 'mystery', message: 'odd' },
    ])
    expect(at).toEqual({ host: 'mailbox.error.host', port: 'mailbox.error.port', password: 'mailbox.error.passwordRequired' })
    expect(other).toEqual(['mystery: odd'])
    expect(mailboxErrors([{ field: 'password', message: 'at most 1024 characters, without line breaks' }]).at).toEqual({ password: 'mailbox.error.password' })
  })
})
