// A small typed i18n: flat catalogues, {placeholders}, Intl for dates and numbers. The
// chosen language is remembered per user in this browser; pages subscribe to it with
// useLocale, so a switch re-renders them (preact-iso's router would not).
import { useEffect, useState } from 'preact/hooks'
import { en, type MessageKey } from './en'

// English is in the first page; the other catalogues load when chosen (they are most of
// the first page's weight otherwise).
type Catalogue = Record<MessageKey, string>
const loaders: Record<Exclude<Locale, 'en'>, () => Promise<Catalogue>> = {
  fr: () => import('./fr').then((m) => m.fr),
  es: () => import('./es').then((m) => m.es),
  ru: () => import('./ru').then((m) => m.ru),
}
const loaded: Partial<Record<Locale, Catalogue>> = { en }
export type Locale = 'en' | 'fr' | 'es' | 'ru'
const supported: Locale[] = ['en', 'fr', 'es', 'ru']

/** load fetches a catalogue once. */
export async function loadCatalogue(l: Locale): Promise<Catalogue> {
  if (!loaded[l]) loaded[l] = await loaders[l as Exclude<Locale, 'en'>]()
  return loaded[l]!
}

export const locales: { code: Locale; name: string }[] = [
  { code: 'en', name: 'English' },
  { code: 'fr', name: 'Français' },
  { code: 'es', name: 'Español' },
  { code: 'ru', name: 'Русский' },
]

let current: Locale = 'en'
const listeners = new Set<(l: Locale) => void>()

/** pick chooses the first supported language among the browser's. */
export function pick(preferred: readonly string[]): Locale {
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0]
    if ((supported as string[]).includes(base)) return base as Locale
  }
  return 'en'
}

export function locale(): Locale {
  return current
}

/** saveLanguage is how a choice reaches the user's account (set by the app; the API). */
let saveLanguage: (l: Locale) => void = () => {}
export function onLanguageChosen(fn: (l: Locale) => void) {
  saveLanguage = fn
}

export async function setLocale(l: Locale, userID?: string) {
  await loadCatalogue(l)
  current = l
  if (userID) {
    saveLanguage(l) // the account keeps it, for every browser
    try {
      localStorage.setItem('unionportal.locale.' + userID, l)
    } catch {
      // storage refused (private mode): the account still has it
    }
  }
  document.documentElement.lang = l
  listeners.forEach((fn) => fn(l))
}

/** restoreLocale applies the language this user chose: the account's, else this browser's. */
export function restoreLocale(userID: string, account?: string) {
  const base = (account ?? '').toLowerCase().split('-')[0]
  if ((supported as string[]).includes(base)) {
    void setLocale(base as Locale)
    return
  }
  let saved: string | null = null
  try {
    saved = localStorage.getItem('unionportal.locale.' + userID)
  } catch {
    // no storage
  }
  if (saved && (supported as string[]).includes(saved)) void setLocale(saved as Locale)
}

/** startLocale applies the browser's preferred language, once its catalogue is here. */
export function startLocale() {
  const l = pick(globalThis.navigator?.languages ?? [])
  if (l !== 'en') void setLocale(l)
}

/** t translates key into the current language, filling {placeholders}. */
export function t(key: MessageKey, params: Record<string, string | number> = {}): string {
  const text: string = loaded[current]?.[key] ?? en[key]
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
