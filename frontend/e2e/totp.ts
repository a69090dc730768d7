// An authenticator app for the browser tests: RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30 s
// steps), as the portal expects, with Node's crypto.
import { createHmac } from 'node:crypto'

/** base32Decode reads an RFC 4648 base32 secret (padding and spaces ignored). */
export function base32Decode(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0
  let value = 0
  const out: number[] = []
  for (const ch of s.toUpperCase().replace(/[=\s]/g, '')) {
    const i = alphabet.indexOf(ch)
    if (i < 0) throw new Error(`not base32: ${ch}`)
    value = (value << 5) | i
    bits += 5
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff)
      bits -= 8
    }
  }
  return Buffer.from(out)
}

/** hotp is RFC 4226's code of counter. */
export function hotp(key: Buffer, counter: number, digits = 6): string {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(counter))
  const mac = createHmac('sha1', key).update(msg).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits
  return String(n).padStart(digits, '0')
}

const period = 30

/** Authenticator is one app holding one secret. The portal accepts each time step's
 * code once (and a step of skew either way), so each code it gives is of a later step
 * than the last: the next step at once, and beyond that it waits. */
export class Authenticator {
  private readonly key: Buffer
  private last = -1

  constructor(secret: string) {
    this.key = base32Decode(secret)
  }

  static step(at = Date.now()): number {
    return Math.floor(at / 1000 / period)
  }

  /** codeAt is the code of a time step. */
  codeAt(step: number): string {
    return hotp(this.key, step)
  }

  /** nextCode is a code the portal has not seen from this app, and accepts now. */
  async nextCode(): Promise<string> {
    let now = Authenticator.step()
    const step = Math.max(now, this.last + 1)
    while (step > now + 1) {
      await new Promise((r) => setTimeout(r, 500))
      now = Authenticator.step()
    }
    this.last = step
    return this.codeAt(step)
  }

  /** wrongCode is six digits that no step around now accepts. */
  wrongCode(): string {
    const now = Authenticator.step()
    const valid = new Set([-2, -1, 0, 1, 2].map((d) => this.codeAt(now + d)))
    for (const c of ['000000', '111111', '222222']) if (!valid.has(c)) return c
    return '333333'
  }
}
