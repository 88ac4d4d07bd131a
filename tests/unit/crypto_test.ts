import assert from "node:assert/strict";
import {
  base64Decode,
  base64UrlEncode,
  constantTimeEqual,
  looksLikeSessionToken,
  newSessionToken,
  sha256Hex,
} from "../../functions/_shared/ground/crypto.ts";

Deno.test("session tokens are 256 random bits behind the lks_ prefix", () => {
  const tokens = new Set(Array.from({ length: 100 }, newSessionToken));
  assert.equal(tokens.size, 100);
  for (const token of tokens) {
    assert.ok(looksLikeSessionToken(token), token);
    assert.equal(base64Decode(token.slice(4))?.length, 32);
  }
  assert.equal(looksLikeSessionToken("lks_short"), false);
  assert.equal(looksLikeSessionToken("lk_" + "a".repeat(43)), false);
});

Deno.test("constantTimeEqual compares contents, whatever the lengths", () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  assert.equal(constantTimeEqual(bytes("same"), bytes("same")), true);
  assert.equal(constantTimeEqual(bytes("same"), bytes("sane")), false);
  assert.equal(constantTimeEqual(bytes("same"), bytes("same-but-longer")), false);
  assert.equal(constantTimeEqual(bytes(""), bytes("")), true);
});

Deno.test("base64 helpers round-trip and reject garbage", () => {
  const data = crypto.getRandomValues(new Uint8Array(33));
  assert.deepEqual(base64Decode(base64UrlEncode(data)), data);
  assert.equal(base64Decode("not base64!"), null);
  assert.equal(
    sha256Hex("abc"),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});
