import { describe, expect, it } from 'vitest'
import { deletesMore } from './Admin'

const never = { draft_days: 0, closed_days: 0, dispatched_years: 0 }

describe('deletesMore', () => {
  it('asks before a period is set, or shortened', () => {
    expect(deletesMore(never, { ...never, draft_days: 365 })).toBe(true)
    expect(deletesMore({ ...never, closed_days: 180 }, { ...never, closed_days: 90 })).toBe(true)
    expect(deletesMore(never, { ...never, dispatched_years: 10 })).toBe(true)
  })
  it('does not ask when nothing is deleted sooner', () => {
    expect(deletesMore(never, never)).toBe(false)
    expect(deletesMore({ ...never, draft_days: 90 }, { ...never, draft_days: 365 })).toBe(false)
    expect(deletesMore({ ...never, dispatched_years: 10 }, never)).toBe(false)
  })
})
