import assert from "node:assert/strict";
import { call, createKey, errorOf, signUp } from "../../support/http.ts";

Deno.test("GET /keys lists the caller's own keys, newest first, with a session or a key", async () => {
  const owner = await signUp("keys-list");
  const stranger = await signUp("keys-list-stranger");
  const first = await createKey(owner.token, { name: "first" });
  const second = await createKey(owner.token, { name: "second" });
  await createKey(stranger.token, { name: "not yours" });

  for (
    const headers of [
      { authorization: `Bearer ${owner.token}` },
      { authorization: `Bearer ${first.key}` },
      { "x-api-key": second.key },
    ]
  ) {
    const result = await call("GET", "/keys", { headers });
    assert.equal(result.status, 200);
    assert.equal(result.body.success, true);
    assert.equal(result.body.total, 2);
    assert.deepEqual(result.body.keys.map((key: { id: string }) => key.id), [second.id, first.id]);
    const text = JSON.stringify(result.body);
    assert.ok(!text.includes(first.key) && !text.includes(second.key));
    assert.ok(!/hash/i.test(text));
  }
});

Deno.test("GET /keys/:id answers the owner, and 404 for anyone else's or any odd id", async () => {
  const owner = await signUp("keys-get");
  const stranger = await signUp("keys-get-stranger");
  const key = await createKey(owner.token, { name: "mine", scopes: [] });

  const mine = await call("GET", `/keys/${key.id}`, { token: owner.token });
  assert.equal(mine.status, 200);
  assert.equal(mine.body.id, key.id);
  assert.equal(mine.body.name, "mine");
  assert.deepEqual(mine.body.scopes, []);
  assert.equal(mine.body.key, undefined);

  for (
    const path of [
      `/keys/${key.id}`,
      "/keys/00000000-0000-4000-8000-000000000000",
      "/keys/not-a-uuid",
      "/keys/1%27%20or%201=1",
    ]
  ) {
    const result = await call("GET", path, { token: stranger.token });
    assert.equal(result.status, 404, path);
    assert.equal(errorOf(result).code, "not_found");
  }
});
