import { describe, expect, it } from 'vitest'
import { ApiError } from '../api/client'
import { setLocale } from '../i18n'
import { actionError } from './Submission'

describe('actionError', () => {
  it('says why an action was refused, in the user language, from the stable code', async () => {
    await setLocale('en')
    expect(actionError(new ApiError(403, 'author_cannot_approve', 'raw server text'))).toBe(
      'You wrote or changed this submission, so you cannot approve it.',
    )
    expect(
      actionError(
        new ApiError(422, 'not_receivable', 'raw', [
          { field: 'case.number', message: 'give the case its number' },
          { field: 'body', message: 'the submission has no text' },
        ]),
      ),
    ).toBe('It cannot be approved yet: give the case its number; the submission has no text.')
    expect(actionError(new ApiError(422, 'validation_failed', 'raw', [{ field: 'comment', message: 'required' }]))).toBe(
      'A comment is required: say why.',
    )
    await setLocale('fr')
    expect(actionError(new ApiError(409, 'invalid_transition', 'raw'))).toMatch(/^Ce n’est plus possible/)
    expect(actionError(new ApiError(503, 'database_unavailable', 'raw'))).toMatch(/Réessayez dans un instant/)
    await setLocale('en')
  })
})
