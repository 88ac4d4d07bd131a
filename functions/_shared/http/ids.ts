import { z } from "zod";
import { ApiError } from "../ground/errors.ts";

export const uuidSchema = z.uuid("Expected a UUID.");

/**
 * An id from the path. Malformed ids answer the same 404 as unknown ones and as rows the caller
 * may not see, so a route tells nobody which ids exist.
 */
export function pathId(id: string | undefined, notFoundMessage: string): string {
  const parsed = uuidSchema.safeParse(id);
  if (!parsed.success) throw new ApiError("not_found", { message: notFoundMessage });
  return parsed.data.toLowerCase();
}
