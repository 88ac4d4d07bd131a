import { defineRoute } from "../../_shared/api/routes.ts";
import { respondIdempotently } from "../../_shared/http/idempotency.ts";
import { requireHeld } from "../../_shared/identity/reach.ts";
import { createKey, createKeyBody } from "../../_shared/keys/key_lifecycle.ts";
import { checkedOrgKeyScopes, orgKeyCeilingPermissions } from "../../_shared/keys/scopes.ts";
import { selfServiceKey, selfServiceLimits } from "../../_shared/keys/self_service_limits.ts";
import { noSuchOrgText, orgIdParam } from "../../_shared/orgs/organizations.ts";
import { orgForKeyWriter } from "../org_keys.ts";

// As POST /keys, with the organization as the owner: a session only, scopes within the
// organization's ceiling (and, for one of the team's permissions, the member's own), the global
// caps.
export const createOrgKeyRoute = defineRoute({
  method: "post",
  path: "/:id/keys",
  idempotent: true,
  summary: "Create an API key the organization owns (the secret is shown once); " +
    "Idempotency-Key honoured",
  auth: ["session"],
  permissionNote: "keys:write in the organization (owner, admin)",
  body: createKeyBody,
  responses: {
    201: '`{success: true, ...metadata, key}` with `ownerType: "org"`, `orgId`, `createdBy`; ' +
      "`key` is the secret (null on an idempotent replay). The key outlives its creator's " +
      "membership and account.",
    400: "Invalid body, scopes beyond what the organization's keys may hold (the message " +
      "lists them), or a rate limit above LATCHKEY_MAX_RATE_LIMIT_PER_MINUTE.",
    403: "The caller's organization role lacks keys:write; a scope that is a permission the " +
      "caller lacks; `org_suspended`: the organization is suspended.",
    404: noSuchOrgText,
    409: "`key_limit_reached`: the organization holds LATCHKEY_MAX_ACTIVE_KEYS active keys; " +
      "or Idempotency-Key reused with another request.",
  },
}, async (c, { body }) => {
  const orgId = orgIdParam(c);
  const { config } = c.get("runtime");
  const limits = selfServiceLimits(config);
  return await respondIdempotently(c, async (tx) => {
    const org = await orgForKeyWriter(tx, orgId, "Creating a key");
    const ceiling = await orgKeyCeilingPermissions(tx, org.key_permissions);
    const scopes = checkedOrgKeyScopes(config, org.key_permissions, ceiling, body.scopes);
    requireHeld(c.get("principal"), scopes.filter((scope) => ceiling.includes(scope)));
    const created = await createKey(tx, { orgId }, selfServiceKey(limits, body, scopes), {
      keyPrefix: config.LATCHKEY_KEY_PREFIX,
      maxActiveKeys: limits.maxActiveKeys,
      auditAction: "org.key_created",
    });
    const metadata = { success: true, ...created.metadata };
    return {
      status: 201,
      body: { ...metadata, key: created.key },
      replayBody: { ...metadata, key: null },
    };
  });
});
