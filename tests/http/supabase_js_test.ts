import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix -- test-only, so not in deno.json (docs/testing.md, lockfiles)
import { createClient, FunctionsHttpError } from "npm:@supabase/supabase-js@2.119.1";
import { baseUrl, defaultPassword, uniqueEmail } from "../support/http.ts";

// How Supabase users call functions: the client targets `<supabaseUrl>/functions/v1/<name>`.
// The anon key is any string here; our functions authenticate with their own tokens.
function client() {
  return createClient(baseUrl, "anon-key-not-used", {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

Deno.test("supabase-js functions.invoke signs up, reads the session and signs out", async () => {
  const supabase = client();
  const email = uniqueEmail("supabase-js");
  const signUp = await supabase.functions.invoke("auth/sign-up/email", {
    body: { name: "Supa Base", email, password: defaultPassword },
  });
  assert.equal(signUp.error, null);
  assert.equal(signUp.data.user.email, email);
  const token: string = signUp.data.session.token;

  const session = await supabase.functions.invoke("auth/session", {
    method: "GET",
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(session.error, null);
  assert.equal(session.data.user.id, signUp.data.user.id);

  const signOut = await supabase.functions.invoke("auth/sign-out", {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(signOut.error, null);
  assert.deepEqual(signOut.data, { success: true });

  const after = await supabase.functions.invoke("auth/session", {
    method: "GET",
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.ok(after.error instanceof FunctionsHttpError);
  const response = after.error.context as Response;
  assert.equal(response.status, 401);
  assert.equal((await response.json()).error.code, "unauthorized");
});

Deno.test("supabase-js sees the error envelope on a failed sign-in", async () => {
  const { data, error } = await client().functions.invoke("auth/sign-in/email", {
    body: { email: uniqueEmail("nobody"), password: "wrong password" },
  });
  assert.equal(data, null);
  assert.ok(error instanceof FunctionsHttpError);
  const response = error.context as Response;
  assert.equal(response.status, 401);
  const body = await response.json();
  assert.equal(body.error.code, "invalid_credentials");
  assert.equal(body.error.requestId, response.headers.get("x-request-id"));
});

Deno.test("supabase-js reads /version", async () => {
  const { data, error } = await client().functions.invoke("version", { method: "GET" });
  assert.equal(error, null);
  assert.equal(data.environment, "test");
});
