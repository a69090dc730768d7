// The upload queue: evidence files sent one after another, each with its progress, a
// way to cancel it, and the API's refusal (too large, wrong type) kept for the screen.
import { problemError, type ApiError } from './api/client'

export type UploadState = 'queued' | 'uploading' | 'done' | 'failed' | 'cancelled'

export interface Upload {
  id: number
  name: string
  size: number
  loaded: number
  state: UploadState
  error?: ApiError | Error
}

/** Send uploads one file; it reports progress and resolves with the outcome. */
export type Send = (file: File, onProgress: (loaded: number) => void, signal: AbortSignal) => Promise<{ ok: true } | { ok: false; error: ApiError | Error }>

export class UploadQueue {
  private items: Upload[] = []
  private files = new Map<number, File>()
  private aborts = new Map<number, AbortController>()
  private next = 1
  private running = false

  constructor(
    private readonly send: Send,
    private readonly onChange: (items: Upload[]) => void,
    private readonly onDone: () => void = () => {},
  ) {}

  add(files: Iterable<File>) {
    for (const f of files) {
      const id = this.next++
      this.files.set(id, f)
      this.items = [...this.items, { id, name: f.name, size: f.size, loaded: 0, state: 'queued' }]
    }
    this.onChange(this.items)
    void this.pump()
  }

  cancel(id: number) {
    const item = this.items.find((i) => i.id === id)
    if (!item || (item.state !== 'queued' && item.state !== 'uploading')) return
    this.aborts.get(id)?.abort()
    this.update(id, { state: 'cancelled' })
  }

  /** clear forgets finished items. */
  clear() {
    this.items = this.items.filter((i) => i.state === 'queued' || i.state === 'uploading')
    this.onChange(this.items)
  }

  private update(id: number, patch: Partial<Upload>) {
    this.items = this.items.map((i) => (i.id === id ? { ...i, ...patch } : i))
    this.onChange(this.items)
  }

  private async pump() {
    if (this.running) return
    this.running = true
    try {
      for (;;) {
        const item = this.items.find((i) => i.state === 'queued')
        if (!item) return
        const abort = new AbortController()
        this.aborts.set(item.id, abort)
        this.update(item.id, { state: 'uploading' })
        const res = await this.send(this.files.get(item.id)!, (loaded) => this.update(item.id, { loaded }), abort.signal)
        this.aborts.delete(item.id)
        this.files.delete(item.id)
        if (abort.signal.aborted) continue // cancelled: already marked
        if (res.ok) {
          this.update(item.id, { state: 'done', loaded: item.size })
          this.onDone()
        } else {
          this.update(item.id, { state: 'failed', error: res.error })
        }
      }
    } finally {
      this.running = false
    }
  }
}

/** xhrSend uploads with XMLHttpRequest, whose upload events give the progress fetch lacks. */
export function xhrSend(url: string, csrf: () => string): Send {
  return (file, onProgress, signal) =>
    new Promise((resolve) => {
      const xhr = new XMLHttpRequest()
      xhr.open('POST', url)
      xhr.withCredentials = true
      const token = csrf()
      if (token) xhr.setRequestHeader('X-CSRF-Token', token)
      xhr.upload.onprogress = (e) => onProgress(e.loaded)
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) return resolve({ ok: true })
        let body: unknown = {}
        try {
          body = JSON.parse(xhr.responseText)
        } catch {
          // not a problem document
        }
        const headers = new Headers()
        const retry = xhr.getResponseHeader('Retry-After')
        if (retry) headers.set('Retry-After', retry)
        resolve({ ok: false, error: problemError(new Response(null, { status: xhr.status, statusText: xhr.statusText, headers }), body) })
      }
      xhr.onerror = () => resolve({ ok: false, error: new TypeError('network') })
      xhr.onabort = () => resolve({ ok: false, error: new Error('cancelled') })
      signal.addEventListener('abort', () => xhr.abort())
      const form = new FormData()
      form.append('file', file, file.name)
      xhr.send(form)
    })
}

/** tusThreshold is the size above which a file goes with tus, in pieces that survive a broken connection. */
export const tusThreshold = 8 << 20

/**
 * evidenceSend sends files to a submission: small ones in one request (small), larger
 * ones with tus, whose client is loaded only when the first large file is chosen.
 */
export function evidenceSend(submissionURL: string, csrf: () => string, small: Send = xhrSend(submissionURL + '/attachments', csrf), large?: () => Promise<Send>): Send {
  let tus: Promise<Send> | undefined
  const load = large ?? (() => import('./tus').then((m) => m.tusSend({ endpoint: submissionURL + '/uploads', csrf })))
  return (file, onProgress, signal) => {
    if (file.size <= tusThreshold) return small(file, onProgress, signal)
    tus ??= load()
    return tus.then(
      (send) => send(file, onProgress, signal),
      (error: Error) => {
        tus = undefined // a failed load (offline) is tried again with the next file
        return { ok: false as const, error }
      },
    )
  }
}
