import type { Context } from "hono";
import type { Runtime } from "../db/runtime.ts";
import type { Principal } from "../ground/principal.ts";

/** What a request carries through its middleware and route (Hono's typed context variables). */
export interface AppEnv {
  Variables: {
    requestId: string;
    runtime: Runtime;
    principal: Principal;
    /** The route declared `idempotent` (api/routes.ts), so it may honour Idempotency-Key. */
    idempotent: boolean;
    /**
     * The request is OAuth's token request (a form body on a route that takes one): its errors
     * are OAuth's `{error, error_description}`, not the envelope (function_app.ts).
     */
    oauthErrors: boolean;
  };
}

export type AppContext = Context<AppEnv>;
