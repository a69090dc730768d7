// Who is signed in, as the pages see it.
import { useEffect, useState } from 'preact/hooks'
import { api, must, onEnrolmentRequired, onUnauthenticated, setCSRFToken, type StepUpMethod } from './api/client'
import type { components } from './api/schema'
import { restoreLocale } from './i18n'

export type Me = components['schemas']['MeResponse']

/** mustEnrol: the user's roles require a second factor and they have none, so the API
 * lets them do nothing else until they add one. */
export function mustEnrol(me: Me): boolean {
  return me.second_factor.required && !me.second_factor.enrolled
}

type State = { status: 'loading' } | { status: 'signedOut'; expired: boolean; returnTo: string } | { status: 'signedIn'; me: Me }

let state: State = { status: 'loading' }
const listeners = new Set<(s: State) => void>()

function set(s: State) {
  state = s
  listeners.forEach((fn) => fn(s))
}

function here(): string {
  return location.pathname + location.search
}

/** load asks the API who is signed in (GET /me). */
export async function load() {
  try {
    const me = await must(api.GET('/me'))
    setCSRFToken(me.csrf_token ?? '')
    restoreLocale(me.user.id, me.user.language)
    markSignedIn(true)
    set({ status: 'signedIn', me })
  } catch {
    // Signed in before in this tab: the session ended (idle, or its absolute limit).
    set({ status: 'signedOut', expired: wasSignedIn(), returnTo: here() })
  }
}

const marker = 'unionportal.signedIn'

function wasSignedIn(): boolean {
  try {
    return sessionStorage.getItem(marker) === '1'
  } catch {
    return false
  }
}

function markSignedIn(on: boolean) {
  try {
    if (on) sessionStorage.setItem(marker, '1')
    else sessionStorage.removeItem(marker)
  } catch {
    // no storage: an expired session is then shown as a plain sign-in
  }
}

/** SecondStep is a sign-in whose password was right, waiting for a second factor. */
export interface SecondStep {
  methods: StepUpMethod[]
  webauthn?: { publicKey: Record<string, unknown> }
  expiresAt: string
}

/** signIn checks the password: signed in (null), or the second step it asks for. Errors
 * are the API's. */
export async function signIn(email: string, password: string): Promise<SecondStep | null> {
  const res = await must(api.POST('/auth/login', { body: { email, password } }))
  if (res.second_factor_required) {
    return { methods: res.methods ?? [], webauthn: res.webauthn ?? undefined, expiresAt: res.expires_at ?? '' }
  }
  setCSRFToken(res.csrf_token ?? '')
  await load()
  return null
}

type Answer = components['schemas']['CompleteSecondFactorRequest']

/** completeSignIn answers the second step with a factor, and loads the user. */
export async function completeSignIn(answer: Answer) {
  const res = await must(api.POST('/auth/second-factor', { body: answer }))
  setCSRFToken(res.csrf_token ?? '')
  await load()
}

export async function signOut() {
  try {
    await must(api.POST('/auth/logout'))
  } finally {
    markSignedIn(false)
    setCSRFToken('')
    set({ status: 'signedOut', expired: false, returnTo: '/' })
  }
}

// A 401 anywhere means the session ended: back to sign-in, then back here.
onUnauthenticated(() => {
  if (state.status === 'signedIn') set({ status: 'signedOut', expired: true, returnTo: here() })
})

// The API refuses everything but enrolment: the user's roles now require a second factor
// (a tenant admin changed the policy, or gave them a role). Reloading shows the page that
// lets them add one.
onEnrolmentRequired(() => {
  if (state.status === 'signedIn' && !mustEnrol(state.me)) void load()
})

export function useSession(): State {
  const [s, setS] = useState(state)
  useEffect(() => {
    listeners.add(setS)
    setS(state)
    return () => {
      listeners.delete(setS)
    }
  }, [])
  return s
}
