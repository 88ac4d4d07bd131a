import assert from "node:assert/strict";
import { embeddedModule, embeddedModuleText } from "../../build/argon2id_wasm.ts";

Deno.test("the embedded argon2id WebAssembly is the installed package's (deno task argon2id:embed)", async () => {
  const root = new URL("../../", import.meta.url);
  assert.equal(
    await Deno.readTextFile(new URL(embeddedModule, root)),
    await embeddedModuleText(),
    `${embeddedModule} is stale: run deno task argon2id:embed`,
  );
});
