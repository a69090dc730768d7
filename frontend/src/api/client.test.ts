import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, must, newClient, onUnauthenticated, setCSRFToken, toApiError } from './client'

const problem = (status: number, body: object, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/problem+json', ...headers } })

afterEach(() => {
  vi.unstubAllGlobals()
  setCSRFToken('')
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
