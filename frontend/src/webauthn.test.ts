import { describe, expect, it } from 'vitest'
import { base64urlDecode, base64urlEncode, creationOptions, credentialJSON, requestOptions } from './webauthn'

const bytes = (...b: number[]) => new Uint8Array(b)

describe('base64url', () => {
  it('round-trips every byte value, without padding or + and /', () => {
    const all = new Uint8Array(256).map((_, i) => i)
    const s = base64urlEncode(all)
    expect(s).not.toMatch(/[+/=]/)
    expect([...base64urlDecode(s)]).toEqual([...all])
  })

  it('reads what the API writes, padded or not, and standard base64 too', () => {
    expect([...base64urlDecode('-_8')]).toEqual([0xfb, 0xff])
    expect([...base64urlDecode('-_8=')]).toEqual([0xfb, 0xff])
    expect([...base64urlDecode('+/8=')]).toEqual([0xfb, 0xff])
    expect(base64urlEncode(bytes(0xfb, 0xff))).toBe('-_8')
    expect(base64urlEncode(bytes())).toBe('')
  })

  it('encodes a view of part of a buffer, not the whole buffer', () => {
    const whole = bytes(1, 2, 3, 4, 5)
    expect(base64urlEncode(new Uint8Array(whole.buffer, 1, 2))).toBe(base64urlEncode(bytes(2, 3)))
  })
})

describe('the options of the API', () => {
  it('turns a registration into binary challenge, user id and excluded keys, keeping the rest', () => {
    const o = creationOptions({
      publicKey: {
        rp: { id: 'localhost', name: 'unionportal' },
        user: { id: 'AQID', name: 'a@b.example', displayName: 'A' },
        challenge: 'BAUG',
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
        excludeCredentials: [{ type: 'public-key', id: 'Bwg', transports: ['usb'] }],
        attestation: 'none',
      },
    }).publicKey!
    expect([...(o.challenge as Uint8Array)]).toEqual([4, 5, 6])
    expect([...(o.user.id as Uint8Array)]).toEqual([1, 2, 3])
    expect(o.user.name).toBe('a@b.example')
    expect([...(o.excludeCredentials![0].id as Uint8Array)]).toEqual([7, 8])
    expect(o.excludeCredentials![0].transports).toEqual(['usb'])
    expect([o.rp.id, o.attestation, o.pubKeyCredParams[0].alg]).toEqual(['localhost', 'none', -7])
  })

  it('turns a login challenge into binary challenge and allowed keys', () => {
    const o = requestOptions({ publicKey: { challenge: 'AAE', rpId: 'localhost', allowCredentials: [{ type: 'public-key', id: 'AgM' }], userVerification: 'preferred' } }).publicKey!
    expect([...(o.challenge as Uint8Array)]).toEqual([0, 1])
    expect([...(o.allowCredentials![0].id as Uint8Array)]).toEqual([2, 3])
    expect([o.rpId, o.userVerification]).toEqual(['localhost', 'preferred'])
    expect(requestOptions({ publicKey: { challenge: 'AAE' } }).publicKey!.allowCredentials).toBeUndefined()
  })
})

describe('the answer of the authenticator', () => {
  it('writes an assertion with base64url fields', () => {
    const cred = {
      id: 'Bwg',
      rawId: bytes(7, 8).buffer,
      type: 'public-key',
      authenticatorAttachment: 'platform',
      getClientExtensionResults: () => ({}),
      response: { clientDataJSON: bytes(1).buffer, authenticatorData: bytes(2).buffer, signature: bytes(3).buffer, userHandle: bytes(4).buffer },
    } as unknown as PublicKeyCredential
    expect(credentialJSON(cred)).toEqual({
      id: 'Bwg',
      rawId: 'Bwg',
      type: 'public-key',
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
      response: { clientDataJSON: 'AQ', authenticatorData: 'Ag', signature: 'Aw', userHandle: 'BA' },
    })
  })

  it('writes a registration with its attestation and transports', () => {
    const cred = {
      id: 'Bwg',
      rawId: bytes(7, 8).buffer,
      type: 'public-key',
      authenticatorAttachment: null,
      getClientExtensionResults: () => ({ credProps: { rk: false } }),
      response: { clientDataJSON: bytes(1).buffer, attestationObject: bytes(9).buffer, getTransports: () => ['internal'] },
    } as unknown as PublicKeyCredential
    const j = credentialJSON(cred)
    expect(j.response).toEqual({ clientDataJSON: 'AQ', attestationObject: 'CQ', transports: ['internal'] })
    expect(j.clientExtensionResults).toEqual({ credProps: { rk: false } })
    expect(j.authenticatorAttachment).toBeUndefined()
  })
})
