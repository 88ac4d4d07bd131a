/**
 * A software authenticator for the passkey tests: an ES256 (P-256) key pair made with WebCrypto,
 * and the bytes a browser and an authenticator would send — clientDataJSON, authenticatorData
 * (rpIdHash, flags, counter, attested credential data with the COSE key), a CBOR
 * attestationObject of fmt "none", and assertions signed over authenticatorData ||
 * SHA-256(clientDataJSON). Every field can be bent, so the tests can play the attacker: another
 * origin, another relying party, no user verification, a replayed challenge, a stale counter.
 */

// deno-lint-ignore-file no-explicit-any

const encoder = new TextEncoder();

export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

export function fromBase64url(text: string): Uint8Array {
  const normalized = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(normalized), (char) => char.charCodeAt(0));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data.slice()));
}

/** The little of CBOR (RFC 8949) WebAuthn needs: integers, byte and text strings, maps. */
type Cbor = number | string | Uint8Array | Map<number | string, Cbor> | Cbor[];

function cborHead(major: number, value: number): Uint8Array {
  if (value < 24) return Uint8Array.of((major << 5) | value);
  if (value < 0x100) return Uint8Array.of((major << 5) | 24, value);
  if (value < 0x10000) return Uint8Array.of((major << 5) | 25, value >> 8, value & 0xff);
  return Uint8Array.of(
    (major << 5) | 26,
    (value >>> 24) & 0xff,
    (value >> 16) & 0xff,
    (value >> 8) & 0xff,
    value & 0xff,
  );
}

export function cbor(value: Cbor): Uint8Array {
  if (typeof value === "number") {
    return value >= 0 ? cborHead(0, value) : cborHead(1, -1 - value);
  }
  if (typeof value === "string") {
    const bytes = encoder.encode(value);
    return concat(cborHead(3, bytes.length), bytes);
  }
  if (value instanceof Uint8Array) return concat(cborHead(2, value.length), value);
  if (Array.isArray(value)) return concat(cborHead(4, value.length), ...value.map(cbor));
  const entries = [...value.entries()];
  return concat(
    cborHead(5, entries.length),
    ...entries.flatMap(([key, item]) => [cbor(key), cbor(item)]),
  );
}

/** Flags of authenticatorData (WebAuthn §6.1). */
export const flags = { up: 0x01, uv: 0x04, be: 0x08, bs: 0x10, at: 0x40 } as const;

function counterBytes(counter: number): Uint8Array {
  return Uint8Array.of(
    (counter >>> 24) & 0xff,
    (counter >> 16) & 0xff,
    (counter >> 8) & 0xff,
    counter & 0xff,
  );
}

/** WebCrypto's ECDSA signature (r || s) as the DER SEQUENCE WebAuthn carries. */
function derSignature(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array) => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    let body: Uint8Array = bytes.slice(start);
    if (body[0] & 0x80) body = concat(Uint8Array.of(0), body);
    return concat(Uint8Array.of(0x02, body.length), body);
  };
  const sequence = concat(integer(raw.slice(0, 32)), integer(raw.slice(32)));
  return concat(Uint8Array.of(0x30, sequence.length), sequence);
}

export interface CeremonyOptions {
  /** The page's origin in clientDataJSON (default: the test server's). */
  origin?: string;
  /** The relying party id whose hash goes into authenticatorData (default: the options'). */
  rpId?: string;
  /** The challenge answered (default: the options'). */
  challenge?: string;
  /** User verification (PIN, biometrics) performed: default true. */
  userVerified?: boolean;
  /** The signature counter reported (default: the authenticator's next). */
  counter?: number;
  /** clientDataJSON's type (default: webauthn.create or webauthn.get). */
  type?: string;
}

/** One credential on a software authenticator. */
export class SoftAuthenticator {
  /** The counter the next assertion reports; starts at 0 at registration. */
  counter = 0;
  readonly aaguid = new Uint8Array(16);

  private constructor(
    readonly credentialId: Uint8Array,
    private readonly keys: CryptoKeyPair,
    readonly defaultOrigin: string,
  ) {}

  static async create(defaultOrigin: string): Promise<SoftAuthenticator> {
    const keys = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      false,
      ["sign", "verify"],
    ) as CryptoKeyPair;
    return new SoftAuthenticator(
      crypto.getRandomValues(new Uint8Array(32)),
      keys,
      defaultOrigin,
    );
  }

  get id(): string {
    return base64url(this.credentialId);
  }

  private async coseKey(): Promise<Uint8Array> {
    const jwk = await crypto.subtle.exportKey("jwk", this.keys.publicKey);
    return cbor(
      new Map<number, Cbor>([
        [1, 2], // kty: EC2
        [3, -7], // alg: ES256
        [-1, 1], // crv: P-256
        [-2, fromBase64url(jwk.x!)],
        [-3, fromBase64url(jwk.y!)],
      ]),
    );
  }

  private clientData(type: string, challenge: string, origin: string): Uint8Array {
    return encoder.encode(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  }

  private async authenticatorData(
    rpId: string,
    flagBits: number,
    counter: number,
    attested?: Uint8Array,
  ): Promise<Uint8Array> {
    return concat(
      await sha256(encoder.encode(rpId)),
      Uint8Array.of(flagBits),
      counterBytes(counter),
      attested ?? new Uint8Array(),
    );
  }

  /** The response to creation options, as `PublicKeyCredential.toJSON()` gives it. */
  async register(options: any, bend: CeremonyOptions = {}): Promise<any> {
    const rpId = bend.rpId ?? options.rp.id;
    const uv = bend.userVerified ?? true;
    const counter = bend.counter ?? this.counter;
    const attested = concat(
      this.aaguid,
      Uint8Array.of(this.credentialId.length >> 8, this.credentialId.length & 0xff),
      this.credentialId,
      await this.coseKey(),
    );
    const authData = await this.authenticatorData(
      rpId,
      flags.up | (uv ? flags.uv : 0) | flags.at,
      counter,
      attested,
    );
    const clientDataJSON = this.clientData(
      bend.type ?? "webauthn.create",
      bend.challenge ?? options.challenge,
      bend.origin ?? this.defaultOrigin,
    );
    const attestationObject = cbor(
      new Map<string, Cbor>([["fmt", "none"], ["attStmt", new Map()], ["authData", authData]]),
    );
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: base64url(clientDataJSON),
        attestationObject: base64url(attestationObject),
        transports: ["internal"],
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }

  /**
   * An assertion for request options, signed by this credential; the counter goes up by one
   * each time (unless `bend.counter` says what to report).
   */
  async assert(options: any, bend: CeremonyOptions = {}): Promise<any> {
    const rpId = bend.rpId ?? options.rpId;
    const uv = bend.userVerified ?? true;
    const counter = bend.counter ?? ++this.counter;
    const authData = await this.authenticatorData(rpId, flags.up | (uv ? flags.uv : 0), counter);
    const clientDataJSON = this.clientData(
      bend.type ?? "webauthn.get",
      bend.challenge ?? options.challenge,
      bend.origin ?? this.defaultOrigin,
    );
    const signed = concat(authData, await sha256(clientDataJSON));
    const raw = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        this.keys.privateKey,
        signed.slice(),
      ),
    );
    return {
      id: this.id,
      rawId: this.id,
      type: "public-key",
      response: {
        clientDataJSON: base64url(clientDataJSON),
        authenticatorData: base64url(authData),
        signature: base64url(derSignature(raw)),
      },
      authenticatorAttachment: "platform",
      clientExtensionResults: {},
    };
  }
}
