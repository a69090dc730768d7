import { describe, expect, it } from 'vitest'
import { actionGroups, actionLabel, fromURL, query } from './Audit'
import { groups } from './Security'
import { known } from '../i18n'

describe('the audit view', () => {
  it('names the actions it knows, and shows the others as they are', () => {
    expect(actionLabel('security_policy.changed')).toBe('Sign-in security policy changed')
    expect(actionLabel('submission.approve')).toBe('Approved') // the timeline's words
    expect(actionLabel('something.new')).toBe('something.new')
  })

  it('has a name for every action and kind its filter offers', () => {
    for (const g of actionGroups) {
      expect(g.prefix.endsWith('.'), g.prefix).toBe(true)
      expect(known('audit.group.' + g.prefix.slice(0, -1)), g.prefix).toBe(true)
      for (const a of g.actions) {
        expect(a.startsWith(g.prefix), a).toBe(true)
        expect(actionLabel(a), a).not.toBe(a)
      }
    }
  })

  it('asks the API for whole days in the user’s time zone, the last one included', () => {
    const q = query({ actor_id: '', action: ' submission. ', submission_id: '', since: '2026-03-01', until: '2026-03-31' })
    expect(q.action).toBe('submission.')
    expect(q.since).toBe(new Date(2026, 2, 1).toISOString())
    expect(q.until).toBe(new Date(2026, 3, 1).toISOString()) // excluded by the API
    expect(Object.keys(query({ actor_id: '', action: '', submission_id: '', since: '', until: '' }))).toEqual([])
  })

  it('reads its filters from the address', () => {
    expect(fromURL('?action=user.&since=2026-01-02')).toEqual({ actor_id: '', action: 'user.', submission_id: '', since: '2026-01-02', until: '' })
  })
})

describe('an authenticator app’s secret', () => {
  it('is shown in groups of four', () => {
    expect(groups('JBSWY3DPEHPK3PXPABCD')).toBe('JBSW Y3DP EHPK 3PXP ABCD')
    expect(groups('ABCDE')).toBe('ABCD E')
  })
})
