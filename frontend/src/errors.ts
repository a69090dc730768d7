import { ApiError } from './api/client'
import { t } from './i18n'

/** errorText says what went wrong in the user's language, never a raw server message. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 503) return t('error.unavailable')
    if (err.code === 'reauthentication_required' || err.code === 'second_factor_enrolment_required') return t(`error.${err.code}`)
    return t('error.generic', { reference: err.code })
  }
  if (err instanceof TypeError) return t('error.network')
  return t('error.generic', { reference: 'client' })
}
