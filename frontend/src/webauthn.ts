// Security keys and passkeys (WebAuthn): the API sends the options of
// navigator.credentials.create() and .get() as JSON, with binary fields in base64url, and
// reads the authenticator's answer as JSON the same way. The conversion is done here, by
// hand, rather than with PublicKeyCredential.parseCreationOptionsFromJSON and toJSON(),
// which browsers older than 2024 lack.

/** base64urlEncode writes bytes as unpadded base64url. */
export function base64urlEncode(bytes: ArrayBuffer | ArrayBufferView): string {
  const b = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let bin = ''
  for (let i = 0; i < b.length; i++) bin += String.fromCharCode(b[i])
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** base64urlDecode reads base64url (or base64), padded or not. */
export function base64urlDecode(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/')
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
  const out = new Uint8Array(bin.length)
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i)
  return out
}

type JSONObject = Record<string, unknown>
type Descriptor = { id: string; transports?: string[] }

const descriptors = (list: unknown): PublicKeyCredentialDescriptor[] | undefined =>
  Array.isArray(list)
    ? (list as Descriptor[]).map((d) => ({ id: base64urlDecode(d.id), type: 'public-key' as const, transports: d.transports as AuthenticatorTransport[] | undefined }))
    : undefined

/** creationOptions turns the API's {publicKey} for a registration into what
 * navigator.credentials.create() takes. */
export function creationOptions(options: { publicKey: JSONObject }): CredentialCreationOptions {
  const pk = options.publicKey
  const user = pk.user as JSONObject
  return {
    publicKey: {
      ...(pk as unknown as PublicKeyCredentialCreationOptions),
      challenge: base64urlDecode(pk.challenge as string),
      user: { ...(user as unknown as PublicKeyCredentialUserEntity), id: base64urlDecode(user.id as string) },
      excludeCredentials: descriptors(pk.excludeCredentials),
    },
  }
}

/** requestOptions turns the API's {publicKey} for a login or step-up into what
 * navigator.credentials.get() takes. */
export function requestOptions(options: { publicKey: JSONObject }): CredentialRequestOptions {
  const pk = options.publicKey
  return {
    publicKey: {
      ...(pk as unknown as PublicKeyCredentialRequestOptions),
      challenge: base64urlDecode(pk.challenge as string),
      allowCredentials: descriptors(pk.allowCredentials),
    },
  }
}

/** credentialJSON is the authenticator's answer (a registration or an assertion) as the
 * API reads it. */
export function credentialJSON(cred: PublicKeyCredential): Record<string, unknown> {
  const r = cred.response
  const response: Record<string, unknown> = { clientDataJSON: base64urlEncode(r.clientDataJSON) }
  if ('attestationObject' in r) {
    const att = r as AuthenticatorAttestationResponse
    response.attestationObject = base64urlEncode(att.attestationObject)
    if (typeof att.getTransports === 'function') response.transports = att.getTransports()
  } else {
    const as = r as AuthenticatorAssertionResponse
    response.authenticatorData = base64urlEncode(as.authenticatorData)
    response.signature = base64urlEncode(as.signature)
    if (as.userHandle) response.userHandle = base64urlEncode(as.userHandle)
  }
  return {
    id: cred.id,
    rawId: base64urlEncode(cred.rawId),
    type: cred.type,
    authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    clientExtensionResults: typeof cred.getClientExtensionResults === 'function' ? cred.getClientExtensionResults() : {},
    response,
  }
}

/** supported tells whether this browser, on this page, can use security keys (it needs
 * a secure context: https, or http://localhost). */
export function supported(): boolean {
  return typeof window !== 'undefined' && window.isSecureContext && typeof window.PublicKeyCredential === 'function' && !!navigator.credentials
}

/** register asks the browser to create a credential with the API's options. */
export async function register(options: { publicKey: JSONObject }): Promise<Record<string, unknown>> {
  const cred = (await navigator.credentials.create(creationOptions(options))) as PublicKeyCredential | null
  if (!cred) throw new DOMException('no credential', 'NotAllowedError')
  return credentialJSON(cred)
}

/** assert asks the browser for a security key's answer to the API's challenge. */
export async function assert(options: { publicKey: JSONObject }): Promise<Record<string, unknown>> {
  const cred = (await navigator.credentials.get(requestOptions(options))) as PublicKeyCredential | null
  if (!cred) throw new DOMException('no credential', 'NotAllowedError')
  return credentialJSON(cred)
}
