import assert from "node:assert/strict";
import {
  asAdminKey,
  call,
  createAccount,
  enrolTotp,
  errorOf,
  issueKey,
  recordSecret,
  signUp,
  withDatabase,
} from "../../support/http.ts";
import {
  type AuthUser,
  createAuthFactor,
  createAuthUser,
  deleteAuthFactor,
  withSupabaseIdentity,
} from "../../support/supabase_auth.ts";

/**
 * Who has no second factor (issue 28, item 6): the users list and a user's page count each
 * account's confirmed factors, say whether its role must use one, and the list filters on it —
 * in SQL, under the cursor, with a search too. Only readers of users see any of it.
 */

interface Listed {
  id: string;
  secondFactors: { count: number; types: string[]; required: boolean };
}

Deno.test("GET /admin/users shows and filters who has a second factor, with search and pages", async () => {
  const tag = `sf${crypto.randomUUID().slice(0, 8)}`;
  const enrolled = await signUp(tag);
  await enrolTotp(enrolled);
  const bare = await signUp(tag);
  // An enrolment never confirmed is no factor.
  const pending = await signUp(tag);
  const started = await call("POST", "/auth/factors/totp", { token: pending.token, body: {} });
  assert.equal(started.status, 201);
  const support = await createAccount("support", tag);

  const list = async (query: string) => {
    const answer = await call("GET", `/admin/users?${query}`, { token: support.token });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as { users: Listed[]; nextCursor: string | null };
  };
  const everyone = await list(`q=${tag}`);
  assert.deepEqual(
    everyone.users.map((user) => [user.id, user.secondFactors]),
    [
      [support.id, { count: 1, types: ["totp"], required: true }],
      [pending.id, { count: 0, types: [], required: false }],
      [bare.id, { count: 0, types: [], required: false }],
      [enrolled.id, { count: 1, types: ["totp"], required: false }],
    ],
  );
  const ids = async (query: string) => (await list(query)).users.map((user) => user.id);
  assert.deepEqual(await ids(`q=${tag}&secondFactor=false`), [pending.id, bare.id]);
  assert.deepEqual(await ids(`q=${tag}&secondFactor=true`), [support.id, enrolled.id]);
  assert.deepEqual(await ids(`q=${tag}&secondFactor=true&role=support`), [support.id]);
  assert.deepEqual(await ids(`q=${tag}&secondFactor=false&role=support`), []);

  // A page of one at a time: the search's filter is applied before the page is cut, so no
  // page is short and none is skipped.
  const first = await list(`q=${tag}&secondFactor=false&limit=1`);
  assert.deepEqual(first.users.map((user) => user.id), [pending.id]);
  assert.ok(first.nextCursor);
  const second = await list(`q=${tag}&secondFactor=false&limit=1&cursor=${first.nextCursor}`);
  assert.deepEqual(second.users.map((user) => user.id), [bare.id]);
  assert.equal(second.nextCursor, null);

  // Without a search: the same filter over everyone, newest first.
  const without = await ids("secondFactor=false&limit=200");
  assert.ok(without.includes(bare.id) && without.includes(pending.id));
  assert.ok(!without.includes(enrolled.id) && !without.includes(support.id));
  const withOne = await ids("secondFactor=true&limit=200");
  assert.ok(withOne.includes(enrolled.id) && withOne.includes(support.id));
  assert.ok(!withOne.includes(bare.id));

  // Reset, the account has none again.
  const reset = await asAdminKey("DELETE", `/admin/users/${enrolled.id}/factors`);
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  assert.deepEqual(await ids(`q=${tag}&secondFactor=false`), [pending.id, bare.id, enrolled.id]);

  const wrong = await call("GET", "/admin/users?secondFactor=yes", { token: support.token });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.error.details[0].path, "secondFactor");
});

Deno.test("GET /admin/users/:id: support sees an admin without a factor; nobody else sees it", async () => {
  const admin = await createAccount("admin", "sf-admin", { secondFactor: false });
  const support = await createAccount("support", "sf-support");
  const person = await signUp("sf-person");

  const seen = await call("GET", `/admin/users/${admin.id}`, { token: support.token });
  assert.equal(seen.status, 200, JSON.stringify(seen.body));
  assert.deepEqual(seen.body.user.secondFactors, { count: 0, types: [], required: true });
  const own = await call("GET", `/admin/users/${support.id}`, { token: support.token });
  assert.deepEqual(own.body.user.secondFactors, { count: 1, types: ["totp"], required: true });
  // Nothing of the factor but its type.
  assert.ok(!JSON.stringify(own.body).includes(support.totp!.secret));

  // A person reads their own factors at GET /auth/factors, not anyone's here, their own
  // included; a key without users:read neither.
  for (
    const path of [`/admin/users/${person.id}`, `/admin/users?secondFactor=false`, "/admin/users"]
  ) {
    const refused = await call("GET", path, { token: person.token });
    assert.equal(refused.status, 403, path);
  }
  const writer = await createAccount("admin", "sf-writer");
  const key = await issueKey(writer.id, { name: "no-read", scopes: ["users:write"] });
  const byKey = await call("GET", "/admin/users?secondFactor=false", {
    headers: { "x-api-key": key.key },
  });
  assert.equal(byKey.status, 403);
  assert.equal(errorOf(byKey).code, "forbidden");
  const ownFactors = await call("GET", "/auth/factors", { token: person.token });
  assert.deepEqual(ownFactors.body.factors, []);
});

Deno.test({
  name: "with Supabase Auth as identity, its verified factors count in the list, filter and page",
  ignore: !Deno.env.get("LATCHKEY_TEST_SUPERUSER_URL"),
  async fn() {
    const adminKey = `sf-admin-key-${crypto.randomUUID()}`;
    recordSecret(adminKey);
    await withSupabaseIdentity(async (served, project) => {
      const tag = `sbf${crypto.randomUUID().slice(0, 8)}`;
      // Known to Latchkey once a token of theirs is seen, oldest first.
      const person = async (name: string) => {
        const user = await createAuthUser({ email: `${name}-${tag}@example.test` });
        const seen = await served.call("GET", "/auth/session", {
          authorization: `Bearer ${await project.token(user)}`,
        });
        assert.equal(seen.status, 200, JSON.stringify(seen.body));
        return user;
      };
      const ana = await person("ana");
      const ben = await person("ben");
      const cy = await person("cy");
      // An admin, whose role must use a second factor (the default required roles).
      await withDatabase((sql) =>
        sql`update latchkey.users set role = 'admin' where id = ${cy.id}`
      );

      const admin = { "x-admin-key": adminKey };
      const list = async (query: string) => {
        const answer = await served.call("GET", `/admin/users?${query}`, admin);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        return answer.body as { users: Listed[]; nextCursor: string | null };
      };
      const ids = async (query: string) => (await list(query)).users.map((user) => user.id);
      const page = async (user: AuthUser) => {
        const answer = await served.call("GET", `/admin/users/${user.id}`, admin);
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        return answer.body.user.secondFactors;
      };

      // Before Supabase Auth holds any factor of theirs: nobody has one.
      assert.deepEqual(await ids(`q=${tag}&secondFactor=true`), []);
      assert.deepEqual(await ids(`q=${tag}&secondFactor=false`), [cy.id, ben.id, ana.id]);
      assert.deepEqual(await page(cy), { count: 0, types: [], required: true });

      // Supabase Auth verifies factors: Ana a TOTP app; Cy a phone, then a WebAuthn key; Ben
      // starts a TOTP enrolment and never verifies it.
      const anaTotp = await createAuthFactor(ana);
      await createAuthFactor(ben, { status: "unverified" });
      await createAuthFactor(cy, { type: "phone" });
      await createAuthFactor(cy, { type: "webauthn" });

      const everyone = await list(`q=${tag}`);
      assert.deepEqual(
        everyone.users.map((user) => [user.id, user.secondFactors]),
        [
          [cy.id, {
            count: 2,
            types: ["supabase:phone", "supabase:webauthn"],
            required: true,
          }],
          [ben.id, { count: 0, types: [], required: false }],
          [ana.id, { count: 1, types: ["supabase:totp"], required: false }],
        ],
      );
      assert.deepEqual(await page(cy), {
        count: 2,
        types: ["supabase:phone", "supabase:webauthn"],
        required: true,
      });
      assert.deepEqual(await page(ana), { count: 1, types: ["supabase:totp"], required: false });
      assert.deepEqual(await page(ben), { count: 0, types: [], required: false });

      // The filter, with a search, with a role, and page by page.
      assert.deepEqual(await ids(`q=${tag}&secondFactor=true`), [cy.id, ana.id]);
      assert.deepEqual(await ids(`q=${tag}&secondFactor=false`), [ben.id]);
      assert.deepEqual(await ids(`q=${tag}&secondFactor=true&role=admin`), [cy.id]);
      const first = await list(`q=${tag}&secondFactor=true&limit=1`);
      assert.deepEqual(first.users.map((user) => user.id), [cy.id]);
      const second = await list(`q=${tag}&secondFactor=true&limit=1&cursor=${first.nextCursor}`);
      assert.deepEqual(second.users.map((user) => user.id), [ana.id]);
      assert.equal(second.nextCursor, null);

      // Without a search: the newest people with a factor are Cy then Ana, one page at a time
      // (everyone of this database's other tests is older).
      const top = await list("secondFactor=true&limit=1");
      assert.deepEqual(top.users.map((user) => user.id), [cy.id]);
      assert.deepEqual(top.users[0].secondFactors.types, ["supabase:phone", "supabase:webauthn"]);
      const next = await list(`secondFactor=true&limit=1&cursor=${top.nextCursor}`);
      assert.deepEqual(next.users.map((user) => user.id), [ana.id]);
      const without = await ids("secondFactor=false&limit=200");
      assert.ok(without.includes(ben.id), "Ben has none");
      assert.ok(!without.includes(ana.id) && !without.includes(cy.id));
      // By exact email.
      assert.deepEqual(await ids(`email=${ana.email}&secondFactor=true`), [ana.id]);
      assert.deepEqual(await ids(`email=${ana.email}&secondFactor=false`), []);
      assert.deepEqual(await ids(`email=${ben.email}&secondFactor=false`), [ben.id]);

      // Supabase Auth removes Ana's factor: she has none again.
      await deleteAuthFactor(anaTotp);
      assert.deepEqual(await ids(`q=${tag}&secondFactor=false`), [ben.id, ana.id]);
      assert.deepEqual(await page(ana), { count: 0, types: [], required: false });
    }, { LATCHKEY_ADMIN_KEY: adminKey });
  },
});
