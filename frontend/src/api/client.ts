// The API client: openapi-fetch typed from the OpenAPI document the Go code publishes,
// with the session's CSRF token on every change and the API's problem answers turned
// into ApiError values the screens can show in the user's language.
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from './schema'

/** One field the API named as wrong, with what it expected. */
export interface FieldError {
  field: string
  message: string
}

/** An RFC 9457 problem answered by the API, with its stable code. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly fields: FieldError[]
  readonly retryAfter?: number
  /** details are the problem's other members, such as limit_bytes or current_version. */
  readonly details: Record<string, unknown>

  constructor(status: number, code: string, detail: string, fields: FieldError[] = [], retryAfter?: number, details: Record<string, unknown> = {}) {
    super(detail)
    this.details = details
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.fields = fields
    this.retryAfter = retryAfter
  }
}

/** problemError builds the ApiError of a problem body (already parsed, or not JSON). */
export function problemError(res: Response, body: unknown): ApiError {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { code?: unknown; detail?: unknown; errors?: unknown }
  const fields = Array.isArray(b.errors)
    ? b.errors.filter((e): e is FieldError => typeof e?.field === 'string' && typeof e?.message === 'string')
    : []
  const retry = Number(res.headers.get('Retry-After'))
  return new ApiError(
    res.status,
    typeof b.code === 'string' ? b.code : res.status >= 500 ? 'internal_error' : 'bad_request',
    typeof b.detail === 'string' ? b.detail : res.statusText,
    fields,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
    b as Record<string, unknown>,
  )
}

/** toApiError reads a problem answer whose body has not been read yet. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown = {}
  try {
    body = await res.clone().json()
  } catch {
    // not JSON: a proxy's page, say
  }
  return problemError(res, body)
}

let csrfToken = ''

/** currentCSRFToken is the session's token, for requests made outside this client (uploads). */
export function currentCSRFToken(): string {
  return csrfToken
}

/** setCSRFToken keeps the token login and GET /me give, for the changes that follow. */
export function setCSRFToken(token: string) {
  csrfToken = token
}

type Listener = () => void
const unauthenticated = new Set<Listener>()

/** onUnauthenticated is called when the API answers 401: the session ended. */
export function onUnauthenticated(fn: Listener): () => void {
  unauthenticated.add(fn)
  return () => unauthenticated.delete(fn)
}

const safe = new Set(['GET', 'HEAD', 'OPTIONS'])

export const session: Middleware = {
  onRequest({ request }) {
    if (!safe.has(request.method) && csrfToken) {
      request.headers.set('X-CSRF-Token', csrfToken)
    }
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !request.url.endsWith('/auth/login')) {
      unauthenticated.forEach((fn) => fn())
    }
    return response
  },
}

/** newClient makes a client of the API at base (the portal's own origin in the app). */
export function newClient(base = `${globalThis.location?.origin ?? ''}/api/v1`) {
  const client = createClient<paths>({ baseUrl: base, credentials: 'same-origin' })
  client.use(session)
  return client
}

export const api = newClient()

/** must returns the data of an answer, or throws its ApiError (openapi-fetch has read
 * the body already and hands it over as error). */
export async function must<T>(answer: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await answer
  if (!response.ok) {
    throw problemError(response, error)
  }
  return data as T
}
