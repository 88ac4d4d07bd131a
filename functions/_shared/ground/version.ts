/** The release of Latchkey this code is; `/version` reports it. */
export const latchkeyVersion = "0.1.0";

/**
 * The newest migration in `sql/migrations` this code was written against (a unit test keeps
 * it equal to the folder); `GET /admin/warnings` compares the database's history with it.
 */
export const expectedSchemaVersion = "20261222000100";
