import { adminFunction, app as admin } from "../admin/app.ts";
import { app as auth, authFunction } from "../auth/app.ts";
import { app as keys, keysFunction } from "../keys/app.ts";
import { app as orgs, orgsFunction } from "../orgs/app.ts";
import { app as version, versionFunction } from "../version/app.ts";
import { type FunctionDefinition, lazyDocument } from "../_shared/api/routes.ts";
import { functionsBasePath } from "../_shared/http/openapi.ts";

/**
 * Every function Latchkey deploys, written once: the gateway serves these, the start banner
 * lists them, the API reference and the Postman collection describe them, and tests take the
 * route catalogue from them. (supabase/config.toml names each for the Supabase CLI, which reads
 * no code; a test keeps it in step.)
 */
const deployed = [
  { definition: adminFunction, app: admin },
  { definition: authFunction, app: auth },
  { definition: keysFunction, app: keys },
  { definition: orgsFunction, app: orgs },
  { definition: versionFunction, app: version },
];

/** Each function's declaration: its name, description and routes, in the gateway's order. */
export const functionDefinitions: FunctionDefinition[] = deployed.map(({ definition }) =>
  definition
);

/** Each function's app by name; each already answers under `/<name>`. */
export const functionApps: Record<string, typeof admin> = Object.fromEntries(
  deployed.map(({ definition, app }) => [definition.name, app]),
);

/** The whole API, every function's routes in one OpenAPI document (built on first use). */
export const apiDocument = lazyDocument(functionDefinitions, functionsBasePath);

/**
 * A team's own functions that the repository carries as examples of Latchkey in use
 * (functions/example-notes): served by the gateway beside Latchkey's and named in
 * supabase/config.toml, but no part of Latchkey's API (not in the OpenAPI document, the Postman
 * collection or the credential matrix). Each reads its environment as a deployed function does,
 * and is loaded on its first request: a start that never serves one never loads supabase-js.
 */
export const exampleFunctions: Record<
  string,
  () => Promise<(request: Request, info?: Deno.ServeHandlerInfo) => Promise<Response>>
> = {
  "example-notes": async () =>
    (await import("../example-notes/notes.ts")).notesHandler(Deno.env.toObject()),
};
