import { ApiError } from "../_shared/errors.ts";

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A key id from the path. Malformed ids, unknown ids and other users' ids all answer the same
 * 404, so the route tells nobody which keys exist.
 */
export function ownKeyId(id: string): string {
  if (!uuidPattern.test(id)) throw ownKeyId.notFound();
  return id.toLowerCase();
}
ownKeyId.notFound = () => new ApiError("not_found", { message: "No such API key." });
