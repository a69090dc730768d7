// The CFA calendar's logic (ADR 0034): checking a session before it is sent, and how
// many days are left before an information deadline.
import type { MessageKey } from './i18n/en'

export type SessionInput = { name: string; starts_on: string; deadline: string }

const isoDate = /^\d{4}-\d{2}-\d{2}$/

function validDate(s: string): boolean {
  if (!isoDate.test(s)) return false
  const d = new Date(s + 'T00:00:00Z')
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s
}

/** sessionErrors checks a session as the API will: the fields it would name, with the
 * message key saying what to do. Dates are YYYY-MM-DD (what <input type="date"> gives). */
export function sessionErrors(s: SessionInput): { field: keyof SessionInput; key: MessageKey }[] {
  const out: { field: keyof SessionInput; key: MessageKey }[] = []
  const name = s.name.trim()
  if (name === '' || [...name].length > 100) out.push({ field: 'name', key: 'calendar.errName' })
  const startOK = validDate(s.starts_on)
  if (!startOK) out.push({ field: 'starts_on', key: 'calendar.errDate' })
  if (!validDate(s.deadline)) out.push({ field: 'deadline', key: 'calendar.errDate' })
  else if (startOK && s.deadline > s.starts_on) out.push({ field: 'deadline', key: 'calendar.errDeadlineAfterStart' })
  return out
}

/** daysLeftKey is the message saying how far a deadline is (days_left from the API). */
export function daysLeftKey(days: number): MessageKey {
  if (days <= 0) return 'calendar.today'
  if (days === 1) return 'calendar.tomorrow'
  return 'calendar.daysLeft'
}

/** urgent: within the last reminder's threshold (3 days), shown with a second cue. */
export function urgent(days: number): boolean {
  return days <= 3
}

/** formatDay shows a calendar date (YYYY-MM-DD) in the user's locale, without a time
 * zone: it is a day, the same everywhere. */
export function formatDay(day: string, locale: string): string {
  const d = new Date(day + 'T00:00:00Z')
  if (Number.isNaN(d.getTime())) return day
  return new Intl.DateTimeFormat(locale, { year: 'numeric', month: 'long', day: 'numeric', timeZone: 'UTC' }).format(d)
}
