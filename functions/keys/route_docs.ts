import type { RouteDoc } from "../_shared/openapi.ts";
import { createKeyBody } from "./routes/create_key.ts";
import { verifyBody } from "./routes/verify_key.ts";

const unauthorized = "Missing, invalid, expired or revoked credential.";

/** The `keys` routes, as OpenAPI documents them. */
export const keysRouteDocs: RouteDoc[] = [
  {
    method: "post",
    path: "/",
    summary: "Create an API key (the secret is shown once); Idempotency-Key honoured",
    auth: ["session"],
    body: createKeyBody,
    responses: {
      201: "The key's metadata and `key`, the secret (null on an idempotent replay).",
      400: "Invalid body or unknown scopes (the message lists the allowed ones).",
      401: unauthorized,
      403: "An API key cannot mint API keys: sign in for a session.",
      409: "Idempotency-Key reused with another request.",
    },
  },
  {
    method: "get",
    path: "/",
    summary: "The caller's keys",
    auth: ["session", "apiKey"],
    responses: { 200: "`{success: true, keys, total}`.", 401: unauthorized, 429: "Rate limited." },
  },
  {
    method: "get",
    path: "/:id",
    summary: "One of the caller's keys",
    auth: ["session", "apiKey"],
    responses: { 200: "Key metadata.", 401: unauthorized, 404: "No such key of yours." },
  },
  {
    method: "delete",
    path: "/:id",
    summary: "Revoke one of the caller's keys",
    auth: ["session", "apiKey"],
    responses: {
      200: "`{success: true, id, revokedAt}`.",
      401: unauthorized,
      404: "No such key of yours.",
    },
  },
  {
    method: "post",
    path: "/verify",
    summary: "Check a key (the key is the credential)",
    auth: [],
    body: verifyBody,
    responses: {
      200: "`{valid, code, keyId, userId, scopes, rateLimit}`.",
      400: "Invalid body.",
      429: "The key's rate limit is used up (body has the verify fields and the error).",
    },
  },
];
