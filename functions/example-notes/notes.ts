import { type ConnectionInfo, withLatchkey } from "@latchkey/with-latchkey";

/**
 * An example of a team's own function behind Latchkey (packages/with-latchkey), not part of
 * Latchkey: `GET` lists the caller's notes and `POST {body}` adds one, through the Data API as
 * the key's (or session's) owner, so RLS on `public.notes` decides which rows
 * (tests/support/example_notes.sql has the table and its policies). Reads need `notes:read`,
 * here; writes `notes:write`, which the table's insert policy asks of a key's token.
 *
 * `SUPABASE_URL` and `SUPABASE_ANON_KEY` are set by Supabase inside functions; Latchkey is
 * found at `SUPABASE_URL/functions/v1` unless `LATCHKEY_URL` says otherwise.
 */
export function notesHandler(
  env: Record<string, string | undefined>,
): (request: Request, connection?: ConnectionInfo) => Promise<Response> {
  const supabaseUrl = env.SUPABASE_URL;
  if (!supabaseUrl) {
    return () =>
      Promise.resolve(
        answerError(501, "not_configured", "Set SUPABASE_URL: this example needs a Data API."),
      );
  }
  return withLatchkey({
    url: env.LATCHKEY_URL ?? `${supabaseUrl}/functions/v1`,
    supabaseUrl,
    supabaseAnonKey: env.SUPABASE_ANON_KEY,
    scopes: ["notes:read"],
    // Served beside Latchkey, behind the same proxies (a key's allowedNetworks see the client).
    trustedProxyHops: env.LATCHKEY_TRUSTED_PROXY_HOPS
      ? Number(env.LATCHKEY_TRUSTED_PROXY_HOPS)
      : undefined,
  }, async (request, { supabase }) => {
    if (request.method === "GET") {
      const { data, error } = await supabase.from("notes").select("id, body").order("id");
      return error ? dataApiError(error) : Response.json({ notes: data });
    }
    if (request.method === "POST") {
      const note = await request.json().catch(() => null);
      if (typeof note?.body !== "string" || note.body.length === 0 || note.body.length > 1000) {
        return answerError(400, "validation_failed", "Send {body}: 1 to 1000 characters.");
      }
      const { data, error } = await supabase.from("notes").insert({ body: note.body })
        .select("id, body").single();
      return error ? dataApiError(error) : Response.json({ note: data }, { status: 201 });
    }
    return answerError(405, "method_not_allowed", "GET lists notes, POST adds one.");
  });
}

/** Latchkey's error envelope, so a client reads this function's errors as Latchkey's. */
function answerError(status: number, code: string, message: string): Response {
  const requestId = crypto.randomUUID();
  return Response.json({ error: { code, message, requestId } }, {
    status,
    headers: { "x-request-id": requestId },
  });
}

/** A policy's refusal (42501) is the caller's; anything else is the Data API's trouble. */
function dataApiError(error: { code?: string }): Response {
  return error.code === "42501"
    ? answerError(403, "forbidden", "The notes' policies refuse this.")
    : answerError(503, "upstream_unavailable", "The Data API did not answer as expected.");
}
