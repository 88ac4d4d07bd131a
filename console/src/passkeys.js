/**
 * Passkeys in the browser: the API's WebAuthn options (JSON, binary fields as base64url) turned
 * into what `navigator.credentials` takes (ArrayBuffers), and the credential it answers turned
 * back into `PublicKeyCredential.toJSON()`'s shape for the API. No library: a few lines of
 * base64url, so nothing more is vendored.
 */

function toBuffer(text) {
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0)).buffer;
}

function toText(buffer) {
  let binary = "";
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const descriptors = (list) => (list ?? []).map((item) => ({ ...item, id: toBuffer(item.id) }));

/** Whether this browser can use passkeys at all (WebAuthn, in a secure context). */
export function passkeysSupported() {
  return globalThis.isSecureContext && typeof globalThis.PublicKeyCredential === "function";
}

/** Common to both answers: the credential's id and what the browser adds around the response. */
function credentialJson(credential, response) {
  return {
    id: credential.id,
    rawId: toText(credential.rawId),
    type: credential.type,
    response,
    ...(credential.authenticatorAttachment
      ? { authenticatorAttachment: credential.authenticatorAttachment }
      : {}),
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
  };
}

/**
 * Makes a passkey from `POST /auth/factors/passkey/options`' answer; resolves with the body of
 * `POST /auth/factors/passkey`. Rejects with the browser's DOMException when the person
 * cancels, the time runs out, or the authenticator holds one of the account's passkeys already.
 */
export async function createPasskey(options) {
  const credential = await navigator.credentials.create({
    publicKey: {
      ...options,
      challenge: toBuffer(options.challenge),
      user: { ...options.user, id: toBuffer(options.user.id) },
      excludeCredentials: descriptors(options.excludeCredentials),
    },
  });
  const { response } = credential;
  const transports = response.getTransports?.() ?? [];
  return credentialJson(credential, {
    clientDataJSON: toText(response.clientDataJSON),
    attestationObject: toText(response.attestationObject),
    ...(transports.length ? { transports } : {}),
  });
}

/**
 * Signs `POST /auth/factors/passkey/assertion-options`' challenge with one of the passkeys it
 * allows; resolves with `{factorId, assertion}`: the passkey that answered (from the options'
 * `factors`) and the body's `assertion` for `POST /auth/factors/:id/verify`.
 */
export async function usePasskey(options) {
  const { factors, ...request } = options;
  const credential = await navigator.credentials.get({
    publicKey: {
      ...request,
      challenge: toBuffer(request.challenge),
      allowCredentials: descriptors(request.allowCredentials),
    },
  });
  const { response } = credential;
  const assertion = credentialJson(credential, {
    clientDataJSON: toText(response.clientDataJSON),
    authenticatorData: toText(response.authenticatorData),
    signature: toText(response.signature),
    ...(response.userHandle ? { userHandle: toText(response.userHandle) } : {}),
  });
  const factor = factors.find((candidate) => candidate.credentialId === assertion.rawId);
  if (!factor) throw new Error("The browser answered with a passkey this account does not have.");
  return { factorId: factor.id, assertion };
}

/** What a passkey ceremony's failure means, for the person at the browser. */
export function passkeyProblem(error) {
  if (error?.name === "NotAllowedError") {
    return "The passkey was not used: the browser's prompt was cancelled or timed out.";
  }
  if (error?.name === "InvalidStateError") {
    return "This authenticator holds one of your passkeys already.";
  }
  if (error?.name === "SecurityError" || error?.name === "NotSupportedError") {
    return `This browser cannot use a passkey here: ${error.message}`;
  }
  return null;
}
