import { parseArgs } from "node:util";
import { functionsBasePath } from "../functions/_shared/http/openapi.ts";
import { buildConsole } from "../functions/_local/console_site.ts";
import { taskArgs } from "../functions/_local/task_args.ts";

/**
 * `deno task console:build [-- --out dist/console --api-url https://<ref>.supabase.co/functions/v1
 * --identity latchkey|supabase --supabase-url … --supabase-anon-key …]`: the console as static
 * files. Add the host's origin to LATCHKEY_CORS_ORIGINS so the browser may call the API.
 */
if (import.meta.main) {
  const { values } = parseArgs({
    args: taskArgs(),
    options: {
      out: { type: "string" },
      "api-url": { type: "string" },
      identity: { type: "string" },
      "supabase-url": { type: "string" },
      "supabase-anon-key": { type: "string" },
    },
  });
  const out = values.out ?? "dist/console";
  const apiUrl = values["api-url"] ?? functionsBasePath;
  const identity = values.identity === "supabase" ? "supabase" : "latchkey";
  if ((values.identity ?? "latchkey") !== identity) {
    console.error(`--identity is latchkey or supabase, not ${values.identity}`);
    Deno.exit(2);
  }
  if (identity === "supabase" && !values["supabase-url"]) {
    console.error("--identity supabase needs --supabase-url (and --supabase-anon-key)");
    Deno.exit(2);
  }
  const written = await buildConsole(out, {
    apiUrl,
    identity,
    ...(values["supabase-url"]
      ? { supabaseUrl: values["supabase-url"], supabaseAnonKey: values["supabase-anon-key"] }
      : {}),
  });
  console.log(
    `Console written to ${out}/ (${written.length} files); it calls ${apiUrl}. ` +
      "Serve the folder from any static host and add that origin to LATCHKEY_CORS_ORIGINS.",
  );
}
