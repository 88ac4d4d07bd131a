import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../_shared/config/config.ts";
import { taskArgs } from "./task_args.ts";

/**
 * `deno task jwt:keygen`: a new ES256 signing key (P-256, `kid` = its RFC 7638 thumbprint) as
 * the JWK set LATCHKEY_JWT_SIGNING_KEYS takes, printed as the `supabase secrets set` line.
 * `-- --rotate` puts the new key first in front of the current LATCHKEY_JWT_SIGNING_KEYS: it
 * signs from the next deploy on while the old keys still verify tokens already out; drop them
 * once LATCHKEY_JWT_TTL_SECONDS has passed. `-- --json` prints only the set.
 */
export async function newSigningKey() {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y!, d: jwk.d!, kid, alg: "ES256" };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: taskArgs(),
    options: { rotate: { type: "boolean", default: false }, json: { type: "boolean" } },
  });
  let current: unknown[] = [];
  if (values.rotate) {
    try {
      current = loadConfig().LATCHKEY_JWT_SIGNING_KEYS ?? [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(`latchkey: ${error.problems.join("\n")}`);
      Deno.exit(2);
    }
    if (current.length === 0) {
      console.error("latchkey: --rotate needs the current set in LATCHKEY_JWT_SIGNING_KEYS");
      Deno.exit(2);
    }
  }
  const set = JSON.stringify({ keys: [await newSigningKey(), ...current] });
  if (values.json) {
    console.log(set);
  } else {
    console.error(
      "A private key: keep it out of shells' history and logs. Public halves are published at " +
        "<auth function URL>/.well-known/jwks.json.",
    );
    console.log(`supabase secrets set LATCHKEY_JWT_SIGNING_KEYS='${set}'`);
  }
}
