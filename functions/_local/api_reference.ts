import swaggerUiDirectory from "swagger-ui-dist/absolute-path.js";
import { functionsBasePath } from "../_shared/http/openapi.ts";

/**
 * The API reference page of the local gateway, `/functions/v1/docs`: Swagger UI (from npm,
 * served from this process, nothing fetched from elsewhere) over the merged OpenAPI document,
 * with "Try it out" against the same origin.
 */

export const apiReferencePath = `${functionsBasePath}/docs`;

const javascript = "text/javascript; charset=utf-8";

// Only what the page needs; the package also ships source maps and demo files.
export const assets: Record<string, { file: string; type: string }> = {
  "swagger-ui.css": { file: "swagger-ui.css", type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { file: "swagger-ui-bundle.js", type: javascript },
  "favicon.png": { file: "favicon-32x32.png", type: "image/png" },
};

// No inline script, so the policy can forbid it; Swagger UI sets inline styles and draws its
// icons from data: URLs.
// `connectTo`: where "Try it out" may send requests besides the page's own origin.
export function contentSecurityPolicy(connectTo: string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    `connect-src ${["'self'", ...connectTo].join(" ")}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}

/**
 * The page, its assets under `assetBase`. A static copy carries its policy in a meta tag
 * (`policyMeta`), since a static host sends no header of ours; frame-ancestors is header-only.
 */
export function referencePage(assetBase: string, policyMeta?: string): string {
  const meta = policyMeta
    ? `\n  <meta http-equiv="Content-Security-Policy" content="${policyMeta}">`
    : "";
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">${meta}
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Latchkey API reference</title>
  <link rel="icon" type="image/png" href="${assetBase}favicon.png">
  <link rel="stylesheet" href="${assetBase}swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${assetBase}swagger-ui-bundle.js"></script>
  <script src="${assetBase}start.js"></script>
</body>
</html>
`;
}

// validatorUrl null: the default sends the whole spec to validator.swagger.io.
export function startScript(specUrl: string): string {
  return `window.ui = SwaggerUIBundle({
  url: ${JSON.stringify(specUrl)},
  dom_id: "#swagger-ui",
  deepLinking: true,
  docExpansion: "list",
  filter: true,
  displayRequestDuration: true,
  persistAuthorization: false,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;
}

const page = referencePage(`${apiReferencePath}/`);
const gatewayStartScript = startScript(`${functionsBasePath}/openapi.json`);

// Read on first use: a gateway nobody browses never holds the 1.5 MB bundle.
const cachedAssets = new Map<string, Blob>();

async function assetBlob(name: string): Promise<Blob> {
  let blob = cachedAssets.get(name);
  if (!blob) {
    blob = new Blob([await assetBytes(name)]);
    cachedAssets.set(name, blob);
  }
  return blob;
}

function respond(body: BodyInit, type: string, cacheControl: string) {
  return new Response(body, {
    headers: {
      "content-type": type,
      "cache-control": cacheControl,
      "content-security-policy": contentSecurityPolicy(),
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });
}

/** The bytes of one of the page's assets, from the pinned swagger-ui-dist package. */
export function assetBytes(name: string) {
  return Deno.readFile(`${swaggerUiDirectory()}/${assets[name].file}`);
}

/** The page or one of its assets for `pathname`, or null when the path is not the reference's. */
export async function serveApiReference(pathname: string): Promise<Response | null> {
  if (pathname === apiReferencePath || pathname === `${apiReferencePath}/`) {
    return respond(page, "text/html; charset=utf-8", "no-store");
  }
  if (!pathname.startsWith(`${apiReferencePath}/`)) return null;
  const name = pathname.slice(apiReferencePath.length + 1);
  if (name === "start.js") {
    return respond(gatewayStartScript, javascript, "no-store");
  }
  if (!Object.hasOwn(assets, name)) return null;
  // The package is pinned in deno.json, so an asset changes only with a new release.
  return respond(await assetBlob(name), assets[name].type, "public, max-age=3600");
}
