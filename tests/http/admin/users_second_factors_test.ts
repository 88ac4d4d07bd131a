import assert from "node:assert/strict";
import {
  asAdminKey,
  call,
  createAccount,
  enrolTotp,
  errorOf,
  issueKey,
  signUp,
} from "../../support/http.ts";

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
