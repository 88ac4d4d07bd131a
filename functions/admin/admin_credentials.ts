import type { Credential } from "../_shared/http/openapi.ts";

/**
 * Every admin route takes any credential — a session, an API key whose effective permissions
 * cover the route, or the static X-Admin-Key — and then checks one permission.
 */
export const adminCredentials: Credential[] = ["session", "apiKey", "adminKey"];
