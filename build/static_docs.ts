import { parseArgs } from "node:util";
import { functionsBasePath } from "../functions/_shared/http/openapi.ts";
import { lazyDocument } from "../functions/_shared/api/routes.ts";
import {
  assetBytes,
  assets,
  contentSecurityPolicy,
  referencePage,
  startScript,
} from "../functions/_local/api_reference.ts";
import { functionDefinitions } from "../functions/_local/deployed_functions.ts";
import { taskArgs } from "../functions/_local/task_args.ts";

/**
 * The API reference as static files, for any static host: hosted edge functions cannot serve
 * HTML. The folder holds index.html, start.js, Swagger UI's assets (from the pinned npm
 * package) and openapi.json, all by relative links; "Try it out" calls `serverUrl` (the
 * functions' URL, `https://<project-ref>.supabase.co/functions/v1`), which the page's policy
 * allows and nothing else.
 */
export async function buildApiReference(
  outDirectory: string,
  serverUrl: string,
): Promise<string[]> {
  await Deno.mkdir(outDirectory, { recursive: true });
  const document = lazyDocument(functionDefinitions, serverUrl)();
  const origin = URL.canParse(serverUrl) ? [new URL(serverUrl).origin] : [];
  // frame-ancestors is ignored in a meta tag, and browsers log an error saying so.
  const policy = contentSecurityPolicy(origin).split("; ")
    .filter((directive) => !directive.startsWith("frame-ancestors")).join("; ");
  const files: Record<string, string | Uint8Array> = {
    "index.html": referencePage("./", policy),
    "start.js": startScript("./openapi.json"),
    "openapi.json": `${JSON.stringify(document, null, 2)}\n`,
  };
  for (const name of Object.keys(assets)) files[name] = await assetBytes(name);
  for (const [name, content] of Object.entries(files)) {
    const path = `${outDirectory}/${name}`;
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return Object.keys(files).sort();
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: taskArgs(),
    options: { out: { type: "string" }, "server-url": { type: "string" } },
  });
  const out = values.out ?? "dist/docs";
  const serverUrl = values["server-url"] ?? functionsBasePath;
  const written = await buildApiReference(out, serverUrl);
  console.log(
    `API reference written to ${out}/ (${written.join(", ")}); "Try it out" calls ${serverUrl}.`,
  );
}
