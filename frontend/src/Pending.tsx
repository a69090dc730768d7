import { t } from './i18n'
import type { MessageKey } from './i18n/en'

/** Pending is a page whose data has not arrived: the error if loading failed, else a
 * polite "loading" for screen readers. */
export function Pending({ error, loading }: { error: string; loading: MessageKey }) {
  return (
    <main id="main">
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : (
        <p aria-live="polite">{t(loading)}</p>
      )}
    </main>
  )
}
