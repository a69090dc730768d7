import { describe, expect, it } from 'vitest'
import { daysLeftKey, formatDay, sessionErrors, urgent } from './calendar'

describe('sessionErrors', () => {
  it('accepts a session whose deadline is on or before its start', () => {
    expect(sessionErrors({ name: '410th Session', starts_on: '2026-06-01', deadline: '2026-06-01' })).toEqual([])
    expect(sessionErrors({ name: '410th Session', starts_on: '2026-06-01', deadline: '2026-04-15' })).toEqual([])
  })
  it('names the fields the API would refuse', () => {
    expect(sessionErrors({ name: ' ', starts_on: '2026-06-01', deadline: '2026-06-02' })).toEqual([
      { field: 'name', key: 'calendar.errName' },
      { field: 'deadline', key: 'calendar.errDeadlineAfterStart' },
    ])
    expect(sessionErrors({ name: 'x', starts_on: '2026-02-30', deadline: '01/06/2026' }).map((e) => e.field)).toEqual(['starts_on', 'deadline'])
  })
})

describe('days left', () => {
  it('says today, tomorrow or in n days', () => {
    expect(daysLeftKey(0)).toBe('calendar.today')
    expect(daysLeftKey(1)).toBe('calendar.tomorrow')
    expect(daysLeftKey(14)).toBe('calendar.daysLeft')
  })
  it('marks the last three days', () => {
    expect(urgent(3)).toBe(true)
    expect(urgent(4)).toBe(false)
  })
  it('shows a day without shifting it by a time zone', () => {
    expect(formatDay('2026-06-01', 'en')).toBe('June 1, 2026')
    expect(formatDay('2026-06-01', 'fr')).toBe('1 juin 2026')
  })
})
