// A small typed i18n: flat catalogues, {placeholders}, Intl for dates and numbers. The
// chosen language is remembered per user in this browser; pages subscribe to it with
// useLocale, so a switch re-renders them (preact-iso's router would not).
import { useEffect, useState } from 'preact/hooks'
import { en, type MessageKey } from './en'
import { fr } from './fr'
import { es } from './es'
import { ru } from './ru'

export const catalogues = { en, fr, es, ru } as const
export type Locale = keyof typeof catalogues
export const locales: { code: Locale; name: string }[] = [
  { code: 'en', name: 'English' },
  { code: 'fr', name: 'Français' },
  { code: 'es', name: 'Español' },
  { code: 'ru', name: 'Русский' },
]

let current: Locale = pick(globalThis.navigator?.languages ?? [])
const listeners = new Set<(l: Locale) => void>()

/** pick chooses the first supported language among the browser's. */
export function pick(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0]
    if (base in catalogues) return base as Locale
  }
  return 'en'
}

export function locale(): Locale {
  return current
}

export function setLocale(l: Locale, userID?: string) {
  current = l
  if (userID) {
    try {
      localStorage.setItem('unionportal.locale.' + userID, l)
    } catch {
      // storage refused (private mode): the choice lasts for this page
    }
  }
  document.documentElement.lang = l
  listeners.forEach((fn) => fn(l))
}

/** restoreLocale applies the language this user chose before in this browser, if any. */
export function restoreLocale(userID: string) {
  let saved: string | null = null
  try {
    saved = localStorage.getItem('unionportal.locale.' + userID)
  } catch {
    // no storage
  }
  if (saved && saved in catalogues) setLocale(saved as Locale)
}

/** t translates key into the current language, filling {placeholders}. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const text: string = catalogues[current][key] ?? en[key]
  return text.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name]
    return v === undefined ? `{${name}}` : typeof v === 'number' ? formatNumber(v) : v
  })
}

/** known tells whether key is in the catalogues (for names that come from the server). */
export function known(key: string): key is MessageKey {
  return key in en
}

export function formatNumber(n: number): string {
  return new Intl.NumberFormat(current).format(n)
}

export function formatDate(iso: string): string {
  // With the time zone: deadlines and dispatch times are compared across countries.
  return new Intl.DateTimeFormat(current, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' }).format(
    new Date(iso),
  )
}

/** useLocale re-renders the calling component when the language changes. */
export function useLocale(): Locale {
  const [l, set] = useState(current)
  useEffect(() => {
    listeners.add(set)
    return () => {
      listeners.delete(set)
    }
  }, [])
  return l
}
