// Who is signed in, as the pages see it.
import { useEffect, useState } from 'preact/hooks'
import { api, must, onUnauthenticated, setCSRFToken } from './api/client'
import type { components } from './api/schema'
import { restoreLocale } from './i18n'

export type Me = components['schemas']['MeResponse']

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

/** signIn logs in and loads the user; errors are the API's. */
export async function signIn(email: string, password: string) {
  const res = await must(api.POST('/auth/login', { body: { email, password } }))
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
