// Feedback is a form's outcome: what was done (announced politely) and what went wrong
// (announced at once), each shown only when there is one.
export function Feedback({ status, error }: { status?: string | null; error?: string | null }) {
  return (
    <>
      {status && (
        <p class="notice" role="status">
          {status}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </>
  )
}
