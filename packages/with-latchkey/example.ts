import { withLatchkey } from "@latchkey/with-latchkey";

const supabaseUrl = Deno.env.get("SUPABASE_URL")!;
Deno.serve(withLatchkey({
  url: `${supabaseUrl}/functions/v1`, // Latchkey's functions, on the same project
  supabaseUrl,
  supabaseAnonKey: Deno.env.get("SUPABASE_ANON_KEY"),
  scopes: ["notes:read"], // 403 for a key without it
}, async (_req, { supabase, principal }) => {
  const { data } = await supabase.from("notes").select("id, body"); // RLS: the owner's rows only
  return Response.json({ user: principal.userId, notes: data });
}));
