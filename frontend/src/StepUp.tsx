// The step-up prompt: the API client calls it when an act that matters answers 401
// reauthentication_required (the session's last second factor is too old). It asks for
// a factor (or, from someone without one, the password) in a modal dialog, tells the
// API, and lets the client send the refused request again. Cancelling leaves the page
// and its forms as they were.
import { useEffect, useRef, useState } from 'preact/hooks'
import { api, must, setCSRFToken, setStepUpHandler, type StepUpMethod } from './api/client'
import { t, useLocale } from './i18n'
import { FactorAnswer } from './FactorAnswer'

interface Ask {
  methods: StepUpMethod[]
  resolve: (done: boolean) => void
}

/** StepUpPrompt installs the prompt for as long as it is mounted (the signed-in app). */
export function StepUpPrompt() {
  useLocale()
  const [ask, setAsk] = useState<Ask | null>(null)
  useEffect(() => {
    setStepUpHandler((methods) => new Promise<boolean>((resolve) => setAsk({ methods, resolve })))
    return () => setStepUpHandler(null)
  }, [])
  if (!ask) return null
  return (
    <StepUpDialog
      methods={ask.methods}
      onDone={(done) => {
        setAsk(null)
        ask.resolve(done)
      }}
    />
  )
}

function StepUpDialog({ methods, onDone }: { methods: StepUpMethod[]; onDone: (done: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null)
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null
    const dialog = ref.current
    dialog?.showModal()
    // The first field, not the security key's button: most people type a code.
    dialog?.querySelector<HTMLInputElement>('input')?.focus()
    return () => {
      if (dialog?.open) dialog.close()
      before?.focus?.()
    }
  }, [])
  const passwordOnly = methods.length === 1 && methods[0] === 'password'
  return (
    <dialog
      ref={ref}
      class="confirm"
      aria-labelledby="step-up-title"
      aria-describedby="step-up-intro"
      onCancel={(e) => {
        e.preventDefault() // Escape: the same as the cancel button
        onDone(false)
      }}
    >
      <h2 id="step-up-title">{t('stepUp.title')}</h2>
      <p id="step-up-intro">{t(passwordOnly ? 'stepUp.introPassword' : 'stepUp.intro')}</p>
      <FactorAnswer
        id="step-up"
        methods={methods}
        submitLabel={t('stepUp.confirm')}
        challenge={() => must(api.POST('/auth/second-factor/challenge'))}
        onAnswer={async (answer) => {
          const res = await must(api.POST('/auth/second-factor', { body: answer }))
          if (res.csrf_token) setCSRFToken(res.csrf_token)
          onDone(true)
        }}
      >
        <button type="button" onClick={() => onDone(false)}>
          {t('confirm.cancel')}
        </button>
      </FactorAnswer>
    </dialog>
  )
}
