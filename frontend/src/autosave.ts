// Autosave of a draft: the user's text is saved a moment after they stop typing, with
// the version they started from (If-Match). The text is never lost: every change is also
// kept in the browser until the server has it, a save that fails is retried, and when
// someone else saved first the saver stops and reports a conflict with both versions,
// for the user to choose.

/** The editable fields of a draft. */
export interface Draft {
  title: string
  body: string
  kind: string
  language: string
}

/** What the server holds: the fields and their version. */
export interface Saved extends Draft {
  version: number
}

export type SaveResult = { ok: true; saved: Saved } | { ok: false; conflict: Saved } | { ok: false; error: unknown }

export type Status =
  | { state: 'saved'; version: number }
  | { state: 'pending' }
  | { state: 'saving' }
  | { state: 'failed'; error: unknown }
  | { state: 'conflict'; mine: Draft; theirs: Saved }

export interface Options {
  /** save sends draft as a change of version; it resolves, never rejects. */
  save: (draft: Draft, version: number) => Promise<SaveResult>
  /** keep stores the unsaved draft in the browser (null: nothing unsaved). */
  keep: (draft: Draft | null) => void
  onStatus: (s: Status) => void
  delay?: number
  retry?: number
  setTimer?: (fn: () => void, ms: number) => unknown
  clearTimer?: (t: unknown) => void
}

export class Autosaver {
  private version: number
  // base is the server's text the user's changes started from: on a conflict, fields the
  // user did not change take the other version's value, and only real clashes remain.
  private base: Draft
  private latest: Draft | null = null
  private timer: unknown = null
  private current: Promise<void> | null = null
  private stopped = false
  private readonly o: Required<Options>

  constructor(start: Saved, opts: Options) {
    this.version = start.version
    this.base = fieldsOf(start)
    this.o = {
      delay: 1500,
      retry: 5000,
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
      ...opts,
    }
  }

  /** change records the user's latest text and schedules a save. */
  change(draft: Draft) {
    this.latest = draft
    this.o.keep(draft)
    if (this.stopped) return // a conflict stands: kept, not saved, until the user chooses
    this.o.onStatus({ state: 'pending' })
    this.schedule(this.o.delay)
  }

  /** flush saves now (leaving the page, submitting): it waits for a save on its way and
   * then saves what was typed since, so that nothing is left unsaved when it resolves. */
  async flush(): Promise<void> {
    if (this.timer !== null) this.o.clearTimer(this.timer)
    this.timer = null
    while (this.current) await this.current
    await this.run()
    while (this.current) await this.current
    if (this.timer !== null) {
      // typed while saving: save that too
      this.o.clearTimer(this.timer)
      this.timer = null
      await this.run()
    }
  }

  /** resolve ends a conflict: keep mine (saved over theirs) or take theirs. */
  resolve(choice: 'mine' | 'theirs', mine: Draft, theirs: Saved) {
    this.stopped = false
    this.version = theirs.version
    this.base = fieldsOf(theirs)
    if (choice === 'theirs') {
      this.latest = null
      this.o.keep(null)
      this.o.onStatus({ state: 'saved', version: theirs.version })
      return
    }
    this.change(mine)
  }

  private schedule(ms: number) {
    if (this.timer !== null) this.o.clearTimer(this.timer)
    this.timer = this.o.setTimer(() => {
      this.timer = null
      void this.run()
    }, ms)
  }

  private run(): Promise<void> {
    if (this.current || this.stopped || this.latest === null) return Promise.resolve()
    this.current = this.save(this.latest).finally(() => {
      this.current = null
    })
    return this.current
  }

  private async save(draft: Draft) {
    this.o.onStatus({ state: 'saving' })
    const res = await this.o.save(draft, this.version)
    if (res.ok) {
      this.version = res.saved.version
      this.base = fieldsOf(res.saved)
      if (this.latest === draft) {
        this.latest = null
        this.o.keep(null)
        this.o.onStatus({ state: 'saved', version: this.version })
      } else {
        this.schedule(0) // typed on while saving
      }
      return
    }
    if ('conflict' in res) {
      this.stopped = true
      const mine = merge(this.base, this.latest ?? draft, res.conflict)
      this.latest = mine
      this.o.keep(mine)
      this.o.onStatus({ state: 'conflict', mine, theirs: res.conflict })
      return
    }
    this.o.onStatus({ state: 'failed', error: res.error })
    this.schedule(this.o.retry)
  }
}

function fieldsOf(d: Draft): Draft {
  return { title: d.title, body: d.body, kind: d.kind, language: d.language }
}

/** merge keeps the user's changes over base, and takes theirs where the user changed nothing. */
export function merge(base: Draft, mine: Draft, theirs: Draft): Draft {
  const pick = <K extends keyof Draft>(k: K) => (mine[k] === base[k] ? theirs[k] : mine[k])
  return { title: pick('title'), body: pick('body'), kind: pick('kind'), language: pick('language') }
}
