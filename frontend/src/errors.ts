import { ApiError } from './api/client'
import { t } from './i18n'

/** errorText says what went wrong in the user's language, never a raw server message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 503) return t('error.unavailable')
    return t('error.generic', { reference: err.code })
  }
  if (err instanceof TypeError) return t('error.network')
  return t('error.generic', { reference: 'client' })
}
