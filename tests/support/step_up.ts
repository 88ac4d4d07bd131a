import { withDatabase } from "./http.ts";

/**
 * Moves the session's second-factor verifications `minutes` into the past, as if that long had
 * passed since (no test waits out a step-up window).
 */
export async function ageSecondFactor(sessionId: string, minutes: number): Promise<void> {
  await withDatabase((sql) =>
    sql`update latchkey.sessions set amr = (
          select jsonb_agg(case when e ->> 'method' = 'password' then e
            else jsonb_set(e, '{timestamp}', to_jsonb((e ->> 'timestamp')::bigint - ${
      minutes * 60
    })) end order by n)
          from jsonb_array_elements(amr) with ordinality as a (e, n))
        where id = ${sessionId}`
  );
}
