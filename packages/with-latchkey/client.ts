import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./latchkey_api.ts";

export type { paths } from "./latchkey_api.ts";

/** A typed client of Latchkey's HTTP API: every route, its body, query and answer typed. */
export type LatchkeyClient = Client<paths>;

export interface LatchkeyClientOptions {
  /** Latchkey's functions root, e.g. `https://<project-ref>.supabase.co/functions/v1`. */
  url: string;
  /** Headers sent with every call (a credential, `x-forwarded-for`). */
  headers?: Record<string, string>;
  /** The fetch to call with (default: the global one). */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * The client openapi-fetch makes from the generated `paths`: `client.POST("/keys/verify",
 * { body: { key } })` answers `{ data, error, response }`, `data` typed by the route's
 * declared answer and `error` as Latchkey's error envelope.
 */
export function createLatchkeyClient(options: LatchkeyClientOptions): LatchkeyClient {
  return createClient<paths>({
    baseUrl: options.url.replace(/\/+$/, ""),
    headers: options.headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
