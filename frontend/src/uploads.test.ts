import { describe, expect, it } from 'vitest'
import { ApiError } from './api/client'
import { UploadQueue, type Send, type Upload } from './uploads'

const file = (name: string, size: number) => new File([new Uint8Array(size)], name)

/** A fake transport the test drives: it reports progress and settles when told. */
function transport() {
  const calls: { name: string; progress: (n: number) => void; settle: (r: Awaited<ReturnType<Send>>) => void; signal: AbortSignal }[] = []
  const send: Send = (f, progress, signal) =>
    new Promise((settle) => {
      calls.push({ name: f.name, progress, settle, signal })
      signal.addEventListener('abort', () => settle({ ok: false, error: new Error('cancelled') }))
    })
  return { send, calls }
}

const tick = () => new Promise((r) => setTimeout(r, 0))

describe('UploadQueue', () => {
  it('sends files one at a time, with progress, and reports each outcome', async () => {
    const { send, calls } = transport()
    let items: Upload[] = []
    let done = 0
    const q = new UploadQueue(send, (i) => (items = i), () => done++)
    q.add([file('a.pdf', 100), file('b.pdf', 50)])
    await tick()
    expect(calls.map((c) => c.name)).toEqual(['a.pdf']) // one at a time
    calls[0].progress(40)
    expect(items[0]).toMatchObject({ state: 'uploading', loaded: 40 })
    calls[0].settle({ ok: true })
    await tick()
    expect(items[0]).toMatchObject({ state: 'done', loaded: 100 })
    expect(calls.map((c) => c.name)).toEqual(['a.pdf', 'b.pdf'])
    calls[1].settle({ ok: false, error: new ApiError(413, 'file_too_large', 'too large') })
    await tick()
    expect(items[1].state).toBe('failed')
    expect((items[1].error as ApiError).code).toBe('file_too_large')
    expect(done).toBe(1)
  })

  it('cancels the running upload and one that waits, and goes on with the rest', async () => {
    const { send, calls } = transport()
    let items: Upload[] = []
    const q = new UploadQueue(send, (i) => (items = i))
    q.add([file('a', 10), file('b', 10), file('c', 10)])
    await tick()
    q.cancel(items[1].id) // waiting
    q.cancel(items[0].id) // running
    await tick()
    expect(calls[0].signal.aborted).toBe(true)
    expect(items.map((i) => i.state)).toEqual(['cancelled', 'cancelled', 'uploading'])
    expect(calls.map((c) => c.name)).toEqual(['a', 'c'])
  })
})
