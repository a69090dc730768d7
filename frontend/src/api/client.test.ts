import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, must, newClient, onEnrolmentRequired, onUnauthenticated, setCSRFToken, setStepUpHandler, toApiError } from './client'

const problem = (status: number, body: object, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/problem+json', ...headers } })

afterEach(() => {
  vi.unstubAllGlobals()
  setCSRFToken('')
  setStepUpHandler(null)
})

describe('toApiError', () => {
  it('keeps the code, the detail and each named field', async () => {
    const e = await toApiError(
      problem(422, { code: 'validation_failed', detail: 'the submission is invalid', errors: [{ field: 'title', message: 'required' }] }),
    )
    expect(e).toBeInstanceOf(ApiError)
    expect([e.status, e.code, e.message]).toEqual([422, 'validation_failed', 'the submission is invalid'])
    expect(e.fields).toEqual([{ field: 'title', message: 'required' }])
  })

  it('reads Retry-After, and survives an answer that is not a problem', async () => {
    expect((await toApiError(problem(429, { code: 'too_many_attempts' }, { 'Retry-After': '30' }))).retryAfter).toBe(30)
    const e = await toApiError(new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }))
    expect([e.code, e.fields]).toEqual(['internal_error', []])
  })
})

describe('the client', () => {
  it('sends the CSRF token on changes only, and throws the API error', async () => {
    const seen: Request[] = []
    const fetch = vi.fn(async (req: Request) => {
      seen.push(req)
      return req.method === 'GET'
        ? new Response(JSON.stringify({ items: [], next_cursor: '' }), { headers: { 'Content-Type': 'application/json' } })
        : problem(409, { code: 'invalid_transition', detail: 'not in this state' })
    })
    vi.stubGlobal('fetch', fetch)
    const api = newClient('http://portal.test/api/v1')
    setCSRFToken('csrf-123')
    await must(api.GET('/tenants/{tenant}/submissions', { params: { path: { tenant: 'alpha' } } }))
    const err = await must(
      api.POST('/tenants/{tenant}/submissions/{id}/transitions', {
        params: { path: { tenant: 'alpha', id: '1' } },
        body: { action: 'approve', comment: '' },
      }),
    ).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('invalid_transition')
    expect(seen[0].headers.get('X-CSRF-Token')).toBeNull()
    expect(seen[1].headers.get('X-CSRF-Token')).toBe('csrf-123')
  })

  it('reports a 401 as the end of the session, but not a failed login', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => problem(401, { code: 'session_expired' })))
    const api = newClient('http://portal.test/api/v1')
    const ended = vi.fn()
    const stop = onUnauthenticated(ended)
    await api.GET('/me')
    expect(ended).toHaveBeenCalledTimes(1)
    await api.POST('/auth/login', { body: { email: 'a@b.c', password: 'x' } })
    expect(ended).toHaveBeenCalledTimes(1)
    stop()
  })
})

describe('step-up', () => {
  const reauth = () => problem(401, { code: 'reauthentication_required', detail: 'confirm it is you', methods: ['totp', 'recovery'] })
  const ok = (body: object) => new Response(JSON.stringify(body), { headers: { 'Content-Type': 'application/json' } })
  const save = (api: ReturnType<typeof newClient>, place: string) =>
    api.PUT('/tenants/{tenant}/security', { params: { path: { tenant: 'alpha' } }, body: { second_factor_required_for: place as 'none' } })

  it('asks, then sends the same request again, and the caller sees only the success', async () => {
    const bodies: string[] = []
    let n = 0
    vi.stubGlobal(
      'fetch',
      vi.fn(async function (this: unknown, req: Request) {
        // A browser's fetch refuses to be called as a method of anything but window.
        if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation')
        bodies.push(`${req.method} ${req.headers.get('X-CSRF-Token')} ${await req.text()}`)
        return n++ === 0 ? reauth() : ok({ second_factor_required_for: 'all_members' })
      }),
    )
    const api = newClient('http://portal.test/api/v1')
    setCSRFToken('csrf-1')
    const ask = vi.fn(async () => true)
    setStepUpHandler(ask)
    const ended = vi.fn()
    const stop = onUnauthenticated(ended)
    const data = await must(save(api, 'all_members'))
    stop()
    expect(data).toEqual({ second_factor_required_for: 'all_members' })
    expect(ask).toHaveBeenCalledWith(['totp', 'recovery'])
    expect(bodies).toEqual([
      'PUT csrf-1 {"second_factor_required_for":"all_members"}',
      'PUT csrf-1 {"second_factor_required_for":"all_members"}',
    ])
    expect(ended).not.toHaveBeenCalled() // not a lost session
  })

  it('declined, the caller gets reauthentication_required and nothing is sent again', async () => {
    const fetch = vi.fn(async () => reauth())
    vi.stubGlobal('fetch', fetch)
    const api = newClient('http://portal.test/api/v1')
    setStepUpHandler(async () => false)
    const err = await must(save(api, 'none')).catch((e) => e)
    expect(err).toBeInstanceOf(ApiError)
    expect(err.code).toBe('reauthentication_required')
    expect(fetch).toHaveBeenCalledTimes(1)
  })

  it('retries once only, and asks once for requests refused together', async () => {
    const fetch = vi.fn(async () => reauth())
    vi.stubGlobal('fetch', fetch)
    const api = newClient('http://portal.test/api/v1')
    let resolve: (v: boolean) => void = () => {}
    const ask = vi.fn(() => new Promise<boolean>((r) => (resolve = r)))
    setStepUpHandler(ask)
    const both = Promise.all([must(save(api, 'none')).catch((e) => e.code), must(save(api, 'all_members')).catch((e) => e.code)])
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(2))
    resolve(true)
    expect(await both).toEqual(['reauthentication_required', 'reauthentication_required'])
    expect(ask).toHaveBeenCalledTimes(1)
    expect(fetch).toHaveBeenCalledTimes(4) // each sent twice, never a third time
  })

  it('without a prompt installed, answers as the API did', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => reauth()))
    const api = newClient('http://portal.test/api/v1')
    expect((await must(save(api, 'none')).catch((e) => e)).code).toBe('reauthentication_required')
  })

  it('a wrong code is not the end of the session; enrolment required is told to its listeners', async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async (req: Request) =>
        req.url.endsWith('/second-factor') ? problem(401, { code: 'invalid_second_factor' }) : problem(403, { code: 'second_factor_enrolment_required' }),
      ),
    )
    const api = newClient('http://portal.test/api/v1')
    const ended = vi.fn()
    const enrol = vi.fn()
    const stops = [onUnauthenticated(ended), onEnrolmentRequired(enrol)]
    await api.POST('/auth/second-factor', { body: { method: 'totp', code: '123456' } })
    await api.GET('/tenants/{tenant}/submissions', { params: { path: { tenant: 'alpha' } } })
    stops.forEach((s) => s())
    expect(ended).not.toHaveBeenCalled()
    expect(enrol).toHaveBeenCalledTimes(1)
  })
})
