import { describe, expect, it } from 'vitest'
import { ApiError } from './api/client'
import { metadata, tusUpload, type TusRequest, type TusResponse, type TusOptions } from './tus'
import { evidenceSend, tusThreshold, type Send } from './uploads'

const bytesOf = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) % 251)

const answer = (status: number, headers: Record<string, string> = {}, body = ''): TusResponse => ({
  status,
  header: (n) => headers[n] ?? null,
  body,
})

/**
 * portal is an in-memory tus server as the portal behaves: it keeps what arrived of a
 * PATCH whose connection was cut (cut: how many bytes of which PATCH arrive before the
 * network fails), answers 409 to a wrong offset, and makes an attachment at the end.
 */
function portal(length: number, cuts: Map<number, number> = new Map(), refuse?: string) {
  let stored = new Uint8Array(0)
  let patches = 0
  let done = false
  const log: string[] = []
  const transport = async (req: TusRequest): Promise<TusResponse> => {
    log.push(`${req.method} ${req.headers['Upload-Offset'] ?? ''}`.trim())
    expect(req.headers['Tus-Resumable']).toBe('1.0.0')
    expect(req.headers['X-CSRF-Token']).toBe('csrf')
    switch (req.method) {
      case 'POST':
        expect(req.headers['Upload-Length']).toBe(String(length))
        return answer(201, { Location: '/u/1' })
      case 'HEAD':
        return answer(200, { 'Upload-Offset': String(stored.length), ...(done ? { 'Upload-Attachment': '/a/1' } : {}) })
      case 'DELETE':
        stored = new Uint8Array(0)
        return answer(204)
      case 'PATCH': {
        const n = patches++
        if (Number(req.headers['Upload-Offset']) !== stored.length) {
          return answer(409, { 'Upload-Offset': String(stored.length) }, JSON.stringify({ code: 'upload_offset_mismatch' }))
        }
        let piece = new Uint8Array(await req.body!.arrayBuffer())
        const cut = cuts.get(n)
        if (cut !== undefined) piece = piece.slice(0, cut)
        req.onProgress?.(piece.length)
        const next = new Uint8Array(stored.length + piece.length)
        next.set(stored)
        next.set(piece, stored.length)
        stored = next
        if (cut !== undefined) throw new TypeError('network')
        if (stored.length === length) {
          if (refuse) return answer(415, {}, JSON.stringify({ code: refuse }))
          done = true
          return answer(204, { 'Upload-Offset': String(length), 'Upload-Attachment': '/a/1' })
        }
        return answer(204, { 'Upload-Offset': String(stored.length) })
      }
    }
  }
  return { transport, log, stored: () => stored }
}

function options(transport: TusOptions['transport'], waits: number[]): TusOptions {
  return {
    endpoint: '/s/1/uploads',
    csrf: () => 'csrf',
    transport,
    chunkSize: 1000,
    retryDelays: [10, 20, 40],
    sleep: async (ms) => {
      waits.push(ms)
    },
  }
}

describe('tus upload', () => {
  it('sends the file in pieces, resumes from the offset the portal kept after a cut, and reports progress', async () => {
    const data = bytesOf(2500)
    const server = portal(data.length, new Map([[1, 300]])) // the second PATCH breaks after 300 bytes
    const waits: number[] = []
    const progress: number[] = []
    await tusUpload(new File([data], 'statement.pdf', { type: 'application/pdf' }), (n) => progress.push(n), new AbortController().signal, options(server.transport, waits))
    expect(server.stored()).toEqual(data)
    expect(server.log).toEqual(['POST', 'PATCH 0', 'PATCH 1000', 'HEAD', 'PATCH 1300', 'PATCH 2300'])
    expect(waits).toEqual([10]) // one failure, one wait
    expect(progress.at(-1)).toBe(2500)
    expect(progress).toContain(1300)
  })

  it('waits longer after each failure in a row, and gives up with the last one', async () => {
    const data = bytesOf(500)
    const waits: number[] = []
    const failing = async (req: TusRequest): Promise<TusResponse> => {
      if (req.method === 'POST') return answer(201, { Location: '/u/1' })
      if (req.method === 'HEAD') return answer(200, { 'Upload-Offset': '0' })
      throw new TypeError('network')
    }
    await expect(tusUpload(new File([data], 'a.pdf'), () => {}, new AbortController().signal, options(failing, waits))).rejects.toBeInstanceOf(TypeError)
    expect(waits).toEqual([10, 20, 40])
  })

  it('does not retry a refusal: the file is refused', async () => {
    const data = bytesOf(1500)
    const server = portal(data.length, new Map(), 'file_type_refused')
    const waits: number[] = []
    const err = await tusUpload(new File([data], 'page.pdf'), () => {}, new AbortController().signal, options(server.transport, waits)).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect((err as ApiError).code).toBe('file_type_refused')
    expect(waits).toEqual([])
  })

  it('retries when the portal is unavailable, then goes on', async () => {
    const data = bytesOf(800)
    const server = portal(data.length)
    let down = 2
    const flaky = async (req: TusRequest) => (req.method === 'PATCH' && down-- > 0 ? answer(503, {}, JSON.stringify({ code: 'storage_unavailable' })) : server.transport(req))
    const waits: number[] = []
    await tusUpload(new File([data], 'a.pdf'), () => {}, new AbortController().signal, options(flaky, waits))
    expect(server.stored()).toEqual(data)
    expect(waits).toEqual([10, 20])
  })

  it('deletes the upload when cancelled', async () => {
    const data = bytesOf(3000)
    const abort = new AbortController()
    const server = portal(data.length)
    const spy = async (req: TusRequest) => {
      const r = await server.transport(req)
      if (req.method === 'PATCH') abort.abort()
      return r
    }
    await expect(tusUpload(new File([data], 'a.pdf'), () => {}, abort.signal, options(spy, []))).rejects.toThrow('cancelled')
    await Promise.resolve()
    expect(server.log.at(-1)).toBe('DELETE')
  })

  it('names the file in Upload-Metadata as base64 of its UTF-8', () => {
    const m = metadata(new File(['x'], 'résumé.pdf', { type: 'application/pdf' }))
    const [name, type] = m.split(',').map((p) => p.split(' ')[1])
    expect(new TextDecoder().decode(Uint8Array.from(atob(name), (c) => c.charCodeAt(0)))).toBe('résumé.pdf')
    expect(atob(type)).toBe('application/pdf')
  })
})

describe('evidenceSend', () => {
  it('sends small files in one request and large ones with tus, loaded once', async () => {
    const used: string[] = []
    const small: Send = async (f) => (used.push('small ' + f.name), { ok: true })
    let loads = 0
    const large = async (): Promise<Send> => {
      loads++
      return async (f) => (used.push('tus ' + f.name), { ok: true })
    }
    const send = evidenceSend('/s/1', () => '', small, large)
    const signal = new AbortController().signal
    const big = (name: string) => ({ name, size: tusThreshold + 1 }) as File
    await send(new File(['x'], 'a.txt'), () => {}, signal)
    await send(big('b.pdf'), () => {}, signal)
    await send(big('c.pdf'), () => {}, signal)
    expect(used).toEqual(['small a.txt', 'tus b.pdf', 'tus c.pdf'])
    expect(loads).toBe(1)
  })
})
