import { h } from "../dom.js";

/** What a factor's `type` is called on the pages. */
const kinds = {
  totp: "authenticator app",
  webauthn: "passkey",
  passkey: "passkey",
  // Kept by Supabase Auth (LATCHKEY_IDENTITY=supabase): removed there, not here.
  "supabase:totp": "authenticator app (Supabase Auth)",
  "supabase:phone": "phone (Supabase Auth)",
  "supabase:webauthn": "security key (Supabase Auth)",
};

export function factorKind(type) {
  return kinds[type] ?? type;
}

/** The kinds of several factors, each once: "authenticator app, passkey". */
export function factorKinds(types) {
  return [...new Set(types.map(factorKind))].join(", ");
}

/**
 * Whether the account has a second factor: who has none stands out, most of all where the role
 * must use one (LATCHKEY_MFA_REQUIRED_ROLES: such a person cannot act until they enrol).
 */
export function secondFactorState(user) {
  const { count, types, required } = user.secondFactors;
  if (count > 0) return `${count} · ${factorKinds(types)}`;
  if (required && !user.isServiceAccount) {
    return h("span", { class: "bad" }, `No second factor (required for ${user.role})`);
  }
  return h("span", { class: "muted" }, "No second factor");
}
