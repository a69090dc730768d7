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
const enrolment = new Set<Listener>()

/** onUnauthenticated is called when the API answers 401 because the session ended (not
 * for a wrong password or code, nor for a step-up the API asks for). */
export function onUnauthenticated(fn: Listener): () => void {
  unauthenticated.add(fn)
  return () => unauthenticated.delete(fn)
}

/** onEnrolmentRequired is called when the API answers 403
 * second_factor_enrolment_required: the user must add a second factor first. */
export function onEnrolmentRequired(fn: Listener): () => void {
  enrolment.add(fn)
  return () => enrolment.delete(fn)
}

/** A way to confirm it is you, as the API names it. */
export type StepUpMethod = 'webauthn' | 'totp' | 'recovery' | 'password'

/** A StepUpHandler asks the user to confirm it is them with one of methods (and tells
 * the API, POST /auth/second-factor); it resolves true once that is done, false if the
 * user declined. */
export type StepUpHandler = (methods: StepUpMethod[]) => Promise<boolean>

let stepUpHandler: StepUpHandler | null = null
let stepUpInFlight: Promise<boolean> | null = null

/** setStepUpHandler installs what asks the user when an act needs a fresh second factor
 * (the app's modal prompt); null removes it. */
export function setStepUpHandler(fn: StepUpHandler | null) {
  stepUpHandler = fn
}

/** stepUp asks once for requests that need it at the same time. */
function stepUp(methods: StepUpMethod[]): Promise<boolean> {
  if (!stepUpHandler) return Promise.resolve(false)
  if (!stepUpInFlight) {
    stepUpInFlight = stepUpHandler(methods)
      .catch(() => false)
      .finally(() => {
        stepUpInFlight = null
      })
  }
  return stepUpInFlight
}

// These 401s are answers about what was typed, or a request to confirm it is you: the
// session goes on. (A login's 401 never is: there was no session.)
const notSessionLoss = new Set(['reauthentication_required', 'invalid_credentials', 'invalid_second_factor', 'pending_login_expired'])

async function problemCode(res: Response): Promise<{ code: string; methods: StepUpMethod[] }> {
  try {
    const b = (await res.clone().json()) as { code?: unknown; methods?: unknown }
    return {
      code: typeof b.code === 'string' ? b.code : '',
      methods: Array.isArray(b.methods) ? (b.methods.filter((m) => typeof m === 'string') as StepUpMethod[]) : [],
    }
  } catch {
    return { code: '', methods: [] }
  }
}

/** notice tells the listeners what a 401 or 403 means for the session, and returns its
 * code. */
async function notice(request: Request, response: Response): Promise<{ code: string; methods: StepUpMethod[] }> {
  if (response.status !== 401 && response.status !== 403) return { code: '', methods: [] }
  const problem = await problemCode(response)
  if (response.status === 403) {
    if (problem.code === 'second_factor_enrolment_required') enrolment.forEach((fn) => fn())
  } else if (!notSessionLoss.has(problem.code) && !new URL(request.url).pathname.endsWith('/auth/login')) {
    unauthenticated.forEach((fn) => fn())
  }
  return problem
}

const safe = new Set(['GET', 'HEAD', 'OPTIONS'])

// Copies of the changes in flight, so that one refused for want of a step-up can be sent
// again as it was (its body is read when it is sent).
const copies = new Map<string, Request>()

export const session: Middleware = {
  onRequest({ request, id }) {
    if (!safe.has(request.method) && csrfToken) {
      request.headers.set('X-CSRF-Token', csrfToken)
    }
    if (!safe.has(request.method)) copies.set(id, request.clone())
    return request
  },
  async onResponse({ request, response, id, options }) {
    const copy = copies.get(id)
    copies.delete(id)
    const { code, methods } = await notice(request, response)
    if (code !== 'reauthentication_required' || !copy) return response
    // An act that matters, and the last second factor is too old: ask, then send the
    // request again as it was. Declined, the caller gets this answer, and whatever the
    // user typed is still in its form. The retry is not retried.
    if (!(await stepUp(methods))) return response
    if (csrfToken) copy.headers.set('X-CSRF-Token', csrfToken)
    const send = options.fetch // called unbound, as window.fetch must be
    const again = await send(copy)
    await notice(request, again)
    return again
  },
  onError({ id }) {
    copies.delete(id)
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
