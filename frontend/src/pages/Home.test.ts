import { describe, expect, it } from 'vitest'
import { order } from './Home'

describe('order', () => {
  it('puts the secretariat queue first, in workflow order', () => {
    expect(order(['dispatched', 'draft', 'dispatch_failed', 'submitted', 'approved'], true)).toEqual({
      queue: ['submitted', 'approved', 'dispatch_failed'],
      others: ['draft', 'dispatched'],
    })
  })
  it('gives editors every state in workflow order, no queue', () => {
    expect(order(['submitted', 'draft', 'changes_requested'], false)).toEqual({ queue: [], others: ['draft', 'changes_requested', 'submitted'] })
  })
  it('keeps a state it does not know, last', () => {
    expect(order(['archived', 'draft'], false).others).toEqual(['draft', 'archived'])
  })
})
