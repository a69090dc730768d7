import { describe, expect, it } from 'vitest'
import { encode, modulesPath } from './Qr'

describe('QR codes', () => {
  it('draws one square per dark module, inside the quiet zone', () => {
    expect(modulesPath(2, (r, c) => r === c)).toBe('M4 4h1v1h-1zM5 5h1v1h-1z')
  })

  it('encodes an otpauth URI into a code of a valid size, with its finder patterns', async () => {
    const { size, path } = await encode('otpauth://totp/unionportal%20%28localhost%29:a%40b.example?secret=JBSWY3DPEHPK3PXP&issuer=unionportal')
    expect((size - 17) % 4).toBe(0) // 21, 25, 29, … modules
    expect(path.startsWith('M4 4h1v1h-1zM5 4h1v1h-1z')).toBe(true) // the top-left finder's first row
  })
})
