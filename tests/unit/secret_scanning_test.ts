import assert from "node:assert/strict";
import { generateApiKey } from "../../functions/_shared/keys/api_key_format.ts";

/**
 * The secret-scanning pattern docs/http-api.md publishes (gitleaks rule / GitHub custom pattern),
 * read from that page itself: it finds every generated key, in text as scanners see it, and
 * none of the near misses.
 */
const page = await Deno.readTextFile(new URL("../../docs/http-api.md", import.meta.url));
const block = /<!-- secret-scanning:start -->([\s\S]*?)<!-- secret-scanning:end -->/.exec(page)
  ?.[1];
const published = /regex = '''(.*)'''/.exec(block ?? "")?.[1];

Deno.test("the published secret-scanning pattern finds generated keys and no near misses", () => {
  assert.ok(published, "docs/http-api.md publishes the pattern between its markers");
  const pattern = new RegExp(published!, "g");
  for (let i = 0; i < 200; i++) {
    const { key } = generateApiKey("lk");
    const text = `const apiKey = "${key}"; // pasted by mistake\nLATCHKEY_KEY=${key}\n`;
    assert.deepEqual(text.match(pattern), [key, key], key);
  }
  const key = generateApiKey("lk").key;
  const nearMisses = [
    key.slice(0, -1), // one character short
    `${key}x`, // one character long: part of a longer token
    `x${key}`, // glued to a word before it
    key.replace("lk_", "lx_"), // another prefix
    key.replace("lk_", "lk-"), // another separator
    `${key.slice(0, 20)}-${key.slice(21)}`, // a character outside base62
    `${key.slice(0, 20)}_${key.slice(21)}`,
  ];
  for (const miss of nearMisses) {
    assert.equal(new RegExp(published!, "g").exec(miss), null, miss);
  }
});
