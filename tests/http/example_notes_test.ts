import assert from "node:assert/strict";
import { createLatchkeyClient } from "@latchkey/with-latchkey";
import { newSigningKey } from "../../functions/_local/jwt_keygen.ts";
import { createNotesTable, serveDataApiProject } from "../support/data_api.ts";
import { recordSecret, uniqueEmail, withDatabase } from "../support/http.ts";
import { startTestServer } from "../support/server.ts";

/**
 * functions/example-notes end to end, as a team runs it on a hosted project: one project URL
 * whose `/functions/v1/` is the gateway (serving Latchkey and the example) and whose `/rest/v1/`
 * is a Data API applying the notes table's RLS with each token's claims
 * (support/data_api.ts); the example reaches Latchkey at `SUPABASE_URL/functions/v1`, as it
 * would there. Its own gateway, since the example reads SUPABASE_URL from its environment.
 */

const ignore = !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL");

Deno.test({
  name: "example-notes: each key sees its owner's notes; scopes, revocation and rate limits " +
    "refuse as Latchkey does; requests that arrive together mint once",
  ignore,
  async fn() {
    const project = serveDataApiProject((
      url,
    ) => [`${url}/functions/v1/auth/.well-known/jwks.json`]);
    const adminKey = `admin-${crypto.randomUUID()}`;
    recordSecret(adminKey);
    const server = await startTestServer(Deno.env.get("LATCHKEY_TEST_DATABASE_URL")!, {
      SUPABASE_URL: project.url,
      SUPABASE_ANON_KEY: "anon-key-of-the-project",
      LATCHKEY_JWT_SIGNING_KEYS: JSON.stringify({ keys: [await newSigningKey()] }),
      LATCHKEY_SCOPES: "notes:read,notes:write",
      LATCHKEY_ADMIN_KEY: adminKey,
    });
    try {
      project.passOn("/functions/v1/", server.baseUrl);
      await createNotesTable();
      const functionsUrl = `${project.url}/functions/v1`;
      const admin = createLatchkeyClient({
        url: functionsUrl,
        headers: { "x-admin-key": adminKey },
      });
      const account = async (tag: string) => {
        const { data, error } = await admin.POST("/admin/users", {
          body: { email: uniqueEmail(tag), name: tag, serviceAccount: true },
        });
        assert.ok(data, JSON.stringify(error));
        return (data as { user: { id: string } }).user.id;
      };
      const keyOf = async (userId: string, scopes: string[], rateLimitPerMinute = 60) => {
        const { data, error } = await admin.POST("/admin/keys", {
          body: { userId, name: scopes.join(" ") || "none", scopes, rateLimitPerMinute },
        });
        assert.ok(data, JSON.stringify(error));
        const { id, key } = data as { id: string; key: string };
        recordSecret(key);
        return { id, key };
      };
      const notes = (key: string, init: RequestInit = {}) =>
        fetch(`${functionsUrl}/example-notes`, {
          ...init,
          headers: { "x-api-key": key, ...init.headers as Record<string, string> },
        });
      const add = (key: string, body: string) =>
        notes(key, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ body }),
        });
      const statusOf = async (answer: Promise<Response>) => {
        const response = await answer;
        await response.body?.cancel();
        return response.status;
      };
      const envelope = async (response: Response) => {
        const { error } = await response.json();
        assert.equal(error.requestId, response.headers.get("x-request-id"));
        return error as { code: string; message: string };
      };

      const [ada, bob] = await Promise.all([account("ada-notes"), account("bob-notes")]);
      const adaKey = await keyOf(ada, ["notes:read", "notes:write"]);
      const bobKey = await keyOf(bob, ["notes:read"]);
      await withDatabase((sql) =>
        sql`insert into public.notes (owner_id, body) values (${bob}, 'bob''s own')`
      );

      // Ada writes through the example (RLS files it under her) and reads only hers.
      const added = await add(adaKey.key, "ada's first");
      assert.equal(added.status, 201, await added.clone().text());
      assert.equal((await added.json()).note.body, "ada's first");
      const adaList = await notes(adaKey.key);
      assert.equal(adaList.status, 200);
      assert.deepEqual((await adaList.json()).notes.map((n: { body: string }) => n.body), [
        "ada's first",
      ]);
      assert.ok(adaList.headers.get("ratelimit-remaining"), "the key's headers on the answer");
      const bobList = await notes(bobKey.key);
      assert.deepEqual((await bobList.json()).notes.map((n: { body: string }) => n.body), [
        "bob's own",
      ]);
      const [{ owner }] = await withDatabase((sql) =>
        sql<
          { owner: string }[]
        >`select owner_id as owner from public.notes where body = 'ada''s first'`
      );
      assert.equal(owner, ada);

      // Bob's key may read, not write: the table's policy refuses his token's insert.
      const refusedWrite = await add(bobKey.key, "bob via a read-only key");
      assert.equal(refusedWrite.status, 403);
      assert.equal((await envelope(refusedWrite)).code, "forbidden");

      // Without notes:read: 403 before the handler; no credential: 401.
      const writeOnly = await keyOf(ada, ["notes:write"]);
      const lacking = await notes(writeOnly.key);
      assert.equal(lacking.status, 403);
      assert.equal((await envelope(lacking)).code, "forbidden");
      assert.match(lacking.headers.get("www-authenticate")!, /insufficient_scope/);
      const anonymous = await fetch(`${functionsUrl}/example-notes`);
      assert.equal(anonymous.status, 401);
      assert.equal((await envelope(anonymous)).code, "unauthorized");

      // Revoked: 401 with Latchkey's words, though its token may still be cached.
      assert.equal(await statusOf(notes(bobKey.key)), 200);
      const revoked = await admin.POST("/admin/keys/{id}/revoke", {
        params: { path: { id: bobKey.id } },
      });
      assert.equal(revoked.response.status, 200, JSON.stringify(revoked.error));
      const afterRevoke = await notes(bobKey.key);
      assert.equal(afterRevoke.status, 401);
      assert.equal((await envelope(afterRevoke)).message, "The API key has been revoked.");

      // Rate limited: the check and the mint are the minute's two uses.
      const tiny = await keyOf(ada, ["notes:read"], 2);
      assert.equal(await statusOf(notes(tiny.key)), 200);
      const limited = await notes(tiny.key);
      assert.equal(limited.status, 429);
      assert.equal((await envelope(limited)).code, "rate_limited");
      assert.equal(limited.headers.get("ratelimit-limit"), "2");
      assert.equal(limited.headers.get("ratelimit-remaining"), "0");
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);

      // Twelve requests at once with a new key: twelve checks, one mint.
      const busy = await keyOf(bob, ["notes:read"]);
      const answers = await Promise.all(Array.from({ length: 12 }, () => notes(busy.key)));
      for (const answer of answers) {
        assert.equal(answer.status, 200);
        assert.deepEqual((await answer.json()).notes.map((n: { body: string }) => n.body), [
          "bob's own",
        ]);
      }
      assert.equal(project.mints(busy.key), 1, "one POST /auth/token for twelve requests");
      assert.equal(project.mints(adaKey.key), 1, "and one for all of Ada's requests");
    } finally {
      await server.stop();
      await project.close();
    }
  },
});
