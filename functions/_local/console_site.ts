import { functionsBasePath } from "../_shared/http/openapi.ts";
import type { Config } from "../_shared/config/config.ts";

/**
 * The Latchkey Console (`console/`): a static web app, plain ES modules and one stylesheet, no
 * framework and nothing from another origin. The local gateway serves it at
 * `/functions/v1/console/`; `deno task console:build` writes the same files to a folder for any
 * static host, with the API's URL in config.json and the policy in a meta tag.
 */

export const consolePath = `${functionsBasePath}/console`;

const sourceDirectory = new URL("../../console/", import.meta.url);

type Bytes = Awaited<ReturnType<typeof Deno.readFile>>;

const types: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  svg: "image/svg+xml",
};

export interface ConsoleSettings {
  /** The functions' URL the console calls: `/functions/v1` or `https://<ref>.supabase.co/functions/v1`. */
  apiUrl: string;
  identity: "latchkey" | "supabase";
  supabaseUrl?: string;
  supabaseAnonKey?: string;
}

/** The app's files by relative path (index.html, style.css, src/…), read from `console/`. */
export async function consoleSources(): Promise<Map<string, Bytes>> {
  const files = new Map<string, Bytes>();
  async function walk(directory: URL, prefix: string) {
    for await (const entry of Deno.readDir(directory)) {
      if (entry.isDirectory) {
        await walk(new URL(`${entry.name}/`, directory), `${prefix}${entry.name}/`);
      } else if (entry.isFile && types[entry.name.split(".").pop()!]) {
        files.set(`${prefix}${entry.name}`, await Deno.readFile(new URL(entry.name, directory)));
      }
    }
  }
  await walk(sourceDirectory, "");
  return files;
}

/**
 * Scripts only from the console's own origin, no inline script or style, no eval; requests
 * only to the API (and Supabase Auth when it signs people in); DOM sinks that parse HTML are
 * refused outright (Trusted Types), since the app builds every element from text.
 */
export function consolePolicy(settings: ConsoleSettings, { header = true } = {}): string {
  const origins = [settings.apiUrl, settings.supabaseUrl]
    .filter((url): url is string => Boolean(url) && URL.canParse(url!))
    .map((url) => new URL(url).origin);
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${["'self'", ...new Set(origins)].join(" ")}`,
    "base-uri 'none'",
    "form-action 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
    // Header-only: browsers ignore (and complain about) frame-ancestors in a meta tag.
    ...(header ? ["frame-ancestors 'none'"] : []),
  ].join("; ");
}

export function consoleConfigJson(settings: ConsoleSettings): string {
  return `${JSON.stringify(settings, null, 2)}\n`;
}

/** What the running gateway tells its console: the same origin, the identity it runs with. */
export function gatewayConsoleSettings(config: Config): ConsoleSettings {
  return {
    apiUrl: functionsBasePath,
    identity: config.LATCHKEY_IDENTITY,
    ...(config.LATCHKEY_IDENTITY === "supabase" && config.SUPABASE_URL
      ? { supabaseUrl: config.SUPABASE_URL, supabaseAnonKey: config.SUPABASE_ANON_KEY }
      : {}),
  };
}

/** index.html for a static host: the policy travels in the page. */
export function withPolicyMeta(indexHtml: string, policy: string): string {
  return indexHtml.replace(
    '<meta charset="utf-8">',
    `<meta charset="utf-8">\n  <meta http-equiv="Content-Security-Policy" content="${policy}">`,
  );
}

/** Writes the console to `outDirectory`; returns the files written, sorted. */
export async function buildConsole(
  outDirectory: string,
  settings: ConsoleSettings,
): Promise<string[]> {
  const files = await consoleSources();
  const index = new TextDecoder().decode(files.get("index.html")!);
  const written: Record<string, Bytes | string> = Object.fromEntries(files);
  written["index.html"] = withPolicyMeta(index, consolePolicy(settings, { header: false }));
  written["config.json"] = consoleConfigJson(settings);
  for (const [name, content] of Object.entries(written)) {
    const path = `${outDirectory}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return Object.keys(written).sort();
}

let cachedSources: Promise<Map<string, Bytes>> | undefined;

/**
 * The console at `/functions/v1/console/` for the gateway, or null when `pathname` is not
 * the console's. Files are read once, on first use.
 */
export async function serveConsole(
  pathname: string,
  config: Config,
): Promise<Response | null> {
  if (pathname === consolePath) {
    // Relative links need the trailing slash.
    return new Response(null, { status: 308, headers: { location: `${consolePath}/` } });
  }
  if (!pathname.startsWith(`${consolePath}/`)) return null;
  const name = pathname.slice(consolePath.length + 1) || "index.html";
  const settings = gatewayConsoleSettings(config);
  const headers = {
    "content-security-policy": consolePolicy(settings),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
  };
  if (name === "config.json") {
    return new Response(consoleConfigJson(settings), {
      headers: { ...headers, "content-type": types.json },
    });
  }
  cachedSources ??= consoleSources();
  const bytes = (await cachedSources).get(name);
  if (!bytes) return null;
  return new Response(new Blob([bytes]), {
    headers: { ...headers, "content-type": types[name.split(".").pop()!] },
  });
}
