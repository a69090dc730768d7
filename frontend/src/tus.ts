// A small tus 1.0 client (core, creation, termination) for the portal's resumable
// uploads (ADR 0040): large evidence files go in pieces, and a broken connection costs
// only the bytes in flight. The portal keeps what arrived of a cut request; the client
// asks where it stands (HEAD) and continues from there, waiting longer after each
// failure. Loaded only when a large file is chosen.
import { problemError, type ApiError } from './api/client'
import type { Send } from './uploads'

export interface TusRequest {
  method: 'POST' | 'HEAD' | 'PATCH' | 'DELETE'
  url: string
  headers: Record<string, string>
  body?: Blob
  /** onProgress reports the body's bytes sent so far. */
  onProgress?: (loaded: number) => void
  signal?: AbortSignal
}

export interface TusResponse {
  status: number
  header(name: string): string | null
  body: string
}

/** A Transport sends one request; it rejects with a TypeError when the network fails. */
export type Transport = (req: TusRequest) => Promise<TusResponse>

export interface TusOptions {
  /** endpoint creates uploads: …/submissions/{id}/uploads. */
  endpoint: string
  csrf: () => string
  transport?: Transport
  /** chunkSize bounds one PATCH (default 16 MiB): what a failure can cost at most. */
  chunkSize?: number
  /** retryDelays are the waits before each retry after a failure in a row. */
  retryDelays?: number[]
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>
}

/** The waits after failures in a row: about two minutes in all, then the upload fails. */
export const defaultRetryDelays = [1000, 2000, 5000, 10000, 20000, 30000, 60000]

const version = '1.0.0'

/** metadata is tus's Upload-Metadata: the file's name and type, base64 of their UTF-8. */
export function metadata(file: File): string {
  const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)))
  const pairs = [`filename ${b64(file.name)}`]
  if (file.type) pairs.push(`filetype ${b64(file.type)}`)
  return pairs.join(',')
}

/** retryable: a network failure, or an answer that may change by waiting. */
function retryable(status: number, code: string) {
  return status === 408 || status === 429 || status >= 500 || (status === 409 && code === 'upload_busy')
}

function problem(r: TusResponse): ApiError {
  let body: unknown = {}
  try {
    body = JSON.parse(r.body)
  } catch {
    // not a problem document
  }
  const headers = new Headers()
  const retry = r.header('Retry-After')
  if (retry) headers.set('Retry-After', retry)
  return problemError(new Response(null, { status: r.status, headers }), body)
}

const cancelled = () => new Error('cancelled')

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => {
      clearTimeout(timer)
      reject(cancelled())
    })
  })
}

/** upload sends file with tus and resolves once the portal made it an attachment. */
export async function tusUpload(file: File, onProgress: (loaded: number) => void, signal: AbortSignal, o: TusOptions): Promise<void> {
  const send = o.transport ?? xhrTransport
  const chunk = o.chunkSize ?? 16 << 20
  const delays = o.retryDelays ?? defaultRetryDelays
  const sleep = o.sleep ?? defaultSleep
  const headers = (extra: Record<string, string> = {}) => {
    const h: Record<string, string> = { 'Tus-Resumable': version, ...extra }
    const token = o.csrf()
    if (token) h['X-CSRF-Token'] = token
    return h
  }
  let failures = 0
  let lastError: unknown
  /** failed waits before the next try, or gives up with the last failure. */
  const failed = async (err: unknown) => {
    lastError = err
    if (failures >= delays.length) throw lastError
    await sleep(delays[failures++], signal)
  }
  /** attempt runs one request; a network failure or a retryable answer returns null. */
  const attempt = async (req: TusRequest, ok: number): Promise<TusResponse | null> => {
    if (signal.aborted) throw cancelled()
    let r: TusResponse
    try {
      r = await send({ ...req, signal })
    } catch (err) {
      if (signal.aborted || !(err instanceof TypeError)) throw signal.aborted ? cancelled() : err
      await failed(err)
      return null
    }
    if (r.status === ok) return r
    const p = problem(r)
    if (!retryable(r.status, p.code)) throw p
    await failed(p)
    return null
  }

  let location = ''
  while (!location) {
    const r = await attempt({ method: 'POST', url: o.endpoint, headers: headers({ 'Upload-Length': String(file.size), 'Upload-Metadata': metadata(file) }) }, 201)
    if (r) location = r.header('Location') ?? ''
    if (r && !location) throw new Error('the portal named no upload')
  }
  try {
    let offset = 0
    let known = true
    for (;;) {
      if (!known) {
        const r = await attempt({ method: 'HEAD', url: location, headers: headers() }, 200)
        if (!r) continue
        if (r.header('Upload-Attachment')) return onProgress(file.size)
        offset = Number(r.header('Upload-Offset'))
        onProgress(offset)
        known = true
      }
      const from = offset
      const r = await attempt(
        {
          method: 'PATCH',
          url: location,
          headers: headers({ 'Content-Type': 'application/offset+octet-stream', 'Upload-Offset': String(from) }),
          body: file.slice(from, Math.min(file.size, from + chunk)),
          onProgress: (n) => onProgress(from + n),
        },
        204,
      ).catch((err: unknown) => {
        // Another offset than the portal's (after a cut it kept more, or less, than we
        // thought): ask, and go on from there.
        if (!(err instanceof Error && 'code' in err && err.code === 'upload_offset_mismatch')) throw err
        return failed(err).then(() => null)
      })
      if (!r) {
        known = false
        continue
      }
      failures = 0
      offset = Number(r.header('Upload-Offset'))
      onProgress(offset)
      if (r.header('Upload-Attachment')) return
      if (offset >= file.size) {
        // Complete, yet no attachment named: ask again, a bounded number of times.
        await failed(new Error('the portal did not name the attachment'))
        known = false
      }
    }
  } catch (err) {
    if (signal.aborted) {
      // Cancelled: nothing of it should stay on the portal.
      void send({ method: 'DELETE', url: location, headers: headers() }).catch(() => {})
    }
    throw err
  }
}

/** tusSend is a Send for the upload queue. */
export function tusSend(o: TusOptions): Send {
  return (file, onProgress, signal) =>
    tusUpload(file, onProgress, signal, o).then(
      () => ({ ok: true as const }),
      (error: ApiError | Error) => ({ ok: false as const, error }),
    )
}

/** xhrTransport sends with XMLHttpRequest, whose upload events give the progress fetch lacks. */
export const xhrTransport: Transport = (req) =>
  new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open(req.method, req.url)
    xhr.withCredentials = true
    for (const [k, v] of Object.entries(req.headers)) xhr.setRequestHeader(k, v)
    if (req.onProgress) xhr.upload.onprogress = (e) => req.onProgress!(e.loaded)
    xhr.onload = () => resolve({ status: xhr.status, header: (n) => xhr.getResponseHeader(n), body: xhr.responseText })
    xhr.onerror = () => reject(new TypeError('network'))
    xhr.ontimeout = () => reject(new TypeError('network'))
    xhr.onabort = () => reject(cancelled())
    req.signal?.addEventListener('abort', () => xhr.abort())
    xhr.send(req.body ?? null)
  })
