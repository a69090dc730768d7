import { describe, expect, it } from 'vitest'
import { Autosaver, type Draft, type SaveResult, type Saved, type Status } from './autosave'

/** A fake clock: timers run when the test says. */
function clock() {
  let next = 1
  const timers = new Map<number, () => void>()
  return {
    setTimer: (fn: () => void) => {
      const id = next++
      timers.set(id, fn)
      return id
    },
    clearTimer: (id: unknown) => timers.delete(id as number),
    fire: async () => {
      const fns = [...timers.values()]
      timers.clear()
      fns.forEach((fn) => fn())
      await new Promise((r) => setTimeout(r, 0))
    },
    pending: () => timers.size,
  }
}

const draft = (body: string): Draft => ({ title: 'T', body, kind: 'follow_up', language: 'en' })

function setup(results: SaveResult[]) {
  const c = clock()
  const saves: { draft: Draft; version: number }[] = []
  const kept: (Draft | null)[] = []
  const statuses: Status[] = []
  const a = new Autosaver(
    { ...draft('start'), version: 3 },
    {
      save: async (d, v) => {
        saves.push({ draft: d, version: v })
        return results.shift() ?? { ok: false, error: new Error('no result') }
      },
      keep: (d) => kept.push(d),
      onStatus: (s) => statuses.push(s),
      setTimer: c.setTimer,
      clearTimer: c.clearTimer,
    },
  )
  return { a, c, saves, kept, statuses }
}

const saved = (body: string, version: number): SaveResult => ({ ok: true, saved: { ...draft(body), version } })

describe('Autosaver', () => {
  it('saves the last text once typing pauses, with the version it started from', async () => {
    const { a, c, saves, kept, statuses } = setup([saved('abc', 4)])
    a.change(draft('a'))
    a.change(draft('ab'))
    a.change(draft('abc'))
    expect(c.pending()).toBe(1)
    await c.fire()
    expect(saves).toEqual([{ draft: draft('abc'), version: 3 }])
    expect(kept.at(-1)).toBeNull() // saved: nothing left only in the browser
    expect(statuses.at(-1)).toEqual({ state: 'saved', version: 4 })
  })

  it('keeps every change in the browser until saved, and retries a failed save', async () => {
    const { a, c, saves, kept, statuses } = setup([{ ok: false, error: new TypeError('offline') }, saved('x', 4)])
    a.change(draft('x'))
    expect(kept.at(-1)).toEqual(draft('x'))
    await c.fire()
    expect(statuses.at(-1)).toMatchObject({ state: 'failed' })
    expect(kept.at(-1)).toEqual(draft('x')) // still kept
    await c.fire() // the retry
    expect(saves.map((s) => s.version)).toEqual([3, 3])
    expect(statuses.at(-1)).toEqual({ state: 'saved', version: 4 })
  })

  it('stops on a conflict, shows both versions, and saves mine over theirs when chosen', async () => {
    const theirs: Saved = { ...draft('their text'), version: 7 }
    const { a, c, saves, kept, statuses } = setup([{ ok: false, conflict: theirs }, saved('my text', 8)])
    a.change(draft('my text'))
    await c.fire()
    expect(statuses.at(-1)).toEqual({ state: 'conflict', mine: draft('my text'), theirs })
    a.change(draft('my text, more')) // kept, but not saved while the conflict stands
    expect(c.pending()).toBe(0)
    expect(kept.at(-1)).toEqual(draft('my text, more'))
    a.resolve('mine', draft('my text'), theirs)
    await c.fire()
    expect(saves.at(-1)).toEqual({ draft: draft('my text'), version: 7 })
    expect(statuses.at(-1)).toEqual({ state: 'saved', version: 8 })
  })

  it('on a conflict, fields the user did not change take the other version', async () => {
    const theirs: Saved = { ...draft('start'), title: 'Their title', version: 9 }
    const { a, c, statuses } = setup([{ ok: false, conflict: theirs }])
    a.change(draft('my body'))
    await c.fire()
    expect(statuses.at(-1)).toEqual({ state: 'conflict', mine: { ...draft('my body'), title: 'Their title' }, theirs })
  })

  it('saves again what was typed while a save was on its way', async () => {
    let release: (r: SaveResult) => void = () => {}
    const c = clock()
    const saves: string[] = []
    const a = new Autosaver(
      { ...draft(''), version: 1 },
      {
        save: (d) => {
          saves.push(d.body)
          return new Promise((r) => (release = r))
        },
        keep: () => {},
        onStatus: () => {},
        setTimer: c.setTimer,
        clearTimer: c.clearTimer,
      },
    )
    a.change(draft('one'))
    await c.fire()
    a.change(draft('one two'))
    release(saved('one', 2))
    await new Promise((r) => setTimeout(r, 0))
    await c.fire()
    expect(saves).toEqual(['one', 'one two'])
  })

  it('flush waits for a save on its way, then saves what was typed meanwhile', async () => {
    const releases: ((r: SaveResult) => void)[] = []
    const c = clock()
    const saves: string[] = []
    const a = new Autosaver(
      { ...draft(''), version: 1 },
      {
        save: (d) => {
          saves.push(d.body)
          return new Promise((r) => releases.push(r))
        },
        keep: () => {},
        onStatus: () => {},
        setTimer: c.setTimer,
        clearTimer: c.clearTimer,
      },
    )
    a.change(draft('one'))
    await c.fire() // the save of "one" is on its way
    a.change(draft('one two'))
    let flushed = false
    const f = a.flush().then(() => (flushed = true))
    await tick()
    expect(flushed).toBe(false)
    releases[0](saved('one', 2))
    await tick()
    expect(saves).toEqual(['one', 'one two'])
    expect(flushed).toBe(false) // still waiting for the second save
    releases[1](saved('one two', 3))
    await f
    expect(flushed).toBe(true)
  })
})

const tick = () => new Promise((r) => setTimeout(r, 0))
