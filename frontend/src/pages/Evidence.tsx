import { useEffect, useMemo, useState } from 'preact/hooks'
import { ApiError, api, currentCSRFToken, must } from '../api/client'
import type { components } from '../api/schema'
import { formatNumber, t, useLocale } from '../i18n'
import type { MessageKey } from '../i18n/en'
import { errorText } from '../errors'
import { UploadQueue, evidenceSend, type Upload } from '../uploads'

type Attachment = components['schemas']['Attachment']

/** formatSize writes a file size in KB or MB with the locale's separators. */
export function formatSize(bytes: number): string {
  if (bytes < 1024 * 1024) return `${formatNumber(Math.max(1, Math.round(bytes / 1024)))} KB`
  return `${formatNumber(Math.round((bytes / 1024 / 1024) * 10) / 10)} MB`
}

/** uploadError says why a file was refused, from the API's code. */
export function uploadError(name: string, err: unknown): string {
  if (err instanceof ApiError) {
    switch (err.code) {
      case 'file_too_large': {
        return t('error.file_too_large', { name, limit: formatSize(Number(err.details.limit_bytes ?? 0)) })
      }
      case 'file_type_refused':
      case 'file_type_mismatch':
      case 'file_infected':
      case 'too_many_uploads':
        return t(('error.' + err.code) as MessageKey, { name })
    }
    return errorText(err)
  }
  return t('error.upload', { name })
}

/** Metadata tells what identifying metadata a file carries, and what becomes of it. */
function Metadata({ file }: { file: Attachment }) {
  if (file.clean_status === 'cannot_clean') {
    return (
      <p class="error" role="alert">
        {t('evidence.cannotClean')}
      </p>
    )
  }
  if (file.clean_status === 'cleaned_on_send' && file.metadata_found.length > 0) {
    return <p class="muted">{t('evidence.metadata', { list: file.metadata_found.join('; ') })}</p>
  }
  return null
}

/** Evidence lists a draft's files and takes new ones, by drag and drop or the picker. */
export function Evidence({ tenant, id }: { tenant: string; id: string }) {
  useLocale()
  const [files, setFiles] = useState<Attachment[]>([])
  const [uploads, setUploads] = useState<Upload[]>([])
  const [error, setError] = useState('')
  const [over, setOver] = useState(false)

  const reload = () =>
    must(api.GET('/tenants/{tenant}/submissions/{id}/attachments', { params: { path: { tenant, id } } }))
      .then((l) => setFiles(l.items.filter((a) => !a.deleted_at)))
      .catch((e) => setError(errorText(e)))

  const queue = useMemo(
    () =>
      new UploadQueue(
        evidenceSend(`/api/v1/tenants/${encodeURIComponent(tenant)}/submissions/${encodeURIComponent(id)}`, currentCSRFToken),
        setUploads,
        () => void reload(),
      ),
    [tenant, id],
  )
  useEffect(() => {
    reload()
  }, [tenant, id])

  async function remove(a: Attachment) {
    try {
      await must(api.DELETE('/tenants/{tenant}/attachments/{id}', { params: { path: { tenant, id: a.id } } }))
      await reload()
    } catch (err) {
      setError(errorText(err))
    }
  }

  return (
    <section aria-labelledby="evidence">
      <h2 id="evidence">{t('evidence.title')}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {files.length === 0 ? (
        <p class="muted">{t('evidence.none')}</p>
      ) : (
        <ul class="files">
          {files.map((a) => (
            <li key={a.id}>
              <span>{a.file_name}</span> <span class="muted">{formatSize(a.size)}</span>{' '}
              <button type="button" onClick={() => remove(a)}>
                {t('evidence.remove', { name: a.file_name })}
              </button>
              <Metadata file={a} />
            </li>
          ))}
        </ul>
      )}
      <div
        class={over ? 'drop over' : 'drop'}
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault()
          setOver(false)
          if (e.dataTransfer?.files.length) queue.add(e.dataTransfer.files)
        }}
      >
        <p>{t('evidence.drop')}</p>
        <label class="button">
          {t('evidence.choose')}
          <input
            type="file"
            multiple
            class="visually-hidden"
            onChange={(e) => {
              const input = e.currentTarget
              if (input.files?.length) queue.add(input.files)
              input.value = ''
            }}
          />
        </label>
      </div>
      {uploads.length > 0 && (
        <ul class="uploads" aria-live="polite">
          {uploads.map((u) => (
            <li key={u.id}>
              {u.state === 'uploading' || u.state === 'queued' ? (
                <>
                  <label>
                    {t('evidence.uploading', { name: u.name })}{' '}
                    <progress max={u.size || 1} value={u.loaded} />
                  </label>{' '}
                  <button type="button" onClick={() => queue.cancel(u.id)}>
                    {t('evidence.cancel', { name: u.name })}
                  </button>
                </>
              ) : u.state === 'failed' ? (
                <span class="error" role="alert">
                  {uploadError(u.name, u.error)}
                </span>
              ) : u.state === 'cancelled' ? (
                <span>{t('evidence.cancelled', { name: u.name })}</span>
              ) : (
                <span>{t('evidence.done', { name: u.name })}</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
