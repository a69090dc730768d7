// A QR code drawn as SVG in the page, so that a TOTP secret never leaves the browser for
// an image service and no data: URL or inline style is needed (the CSP allows neither
// scripts nor styles from elsewhere). The encoder (qrcode-generator) loads only when a
// QR code is shown.
import { useEffect, useState } from 'preact/hooks'

/** Modules is a QR code: its size in modules and an SVG path of its dark ones. */
export interface Modules {
  size: number
  path: string
}

/** quiet is the margin, in modules, that readers need around a code. */
const quiet = 4

/** modulesPath draws the dark modules of a size × size code, one square each. */
export function modulesPath(size: number, isDark: (row: number, col: number) => boolean): string {
  let d = ''
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      if (isDark(r, c)) d += `M${c + quiet} ${r + quiet}h1v1h-1z`
    }
  }
  return d
}

/** encode makes the QR code of text (error correction M, the usual for URIs). */
export async function encode(text: string): Promise<Modules> {
  const { default: qrcode } = await import('qrcode-generator')
  const qr = qrcode(0, 'M')
  qr.addData(text)
  qr.make()
  const size = qr.getModuleCount()
  return { size, path: modulesPath(size, (r, c) => qr.isDark(r, c)) }
}

export function QrCode({ text, label }: { text: string; label: string }) {
  const [qr, setQr] = useState<Modules | null>(null)
  useEffect(() => {
    let live = true
    encode(text).then((m) => live && setQr(m))
    return () => {
      live = false
    }
  }, [text])
  if (!qr) return <div class="qr" aria-busy="true" />
  const side = qr.size + 2 * quiet
  return (
    <svg class="qr" role="img" aria-label={label} viewBox={`0 0 ${side} ${side}`} shape-rendering="crispEdges" data-testid="qr">
      <rect width={side} height={side} fill="#ffffff" />
      <path d={qr.path} fill="#000000" />
    </svg>
  )
}
