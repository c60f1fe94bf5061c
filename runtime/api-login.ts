/**
 * The local query API's own database login: a user in the `iot_api` role (SELECT on what the API
 * reads, plus its token table; db/migrations/1764200000000_query-api.sql), as the deployed API
 * connects with its own user, so a missing grant or a stray write fails locally too.
 *
 * The password is generated here and kept in the state folder (`<state>/api-db-password`, mode
 * 0600), never in the repository; every start sets it again on the role, so a state folder made
 * anew against a kept database still works. The role is named after the database (roles are
 * shared by every database of a server: two stacks on one server must not reset each other's
 * password).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export const API_PASSWORD_FILE = 'api-db-password';

/** `<database>_api`, cut to PostgreSQL's 63-byte identifier limit, lower case, safe characters only. */
export function apiLoginName(database: string): string {
  return `${database
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 59)}_api`;
}

async function keptPassword(stateDir: string): Promise<string> {
  const file = path.join(stateDir, API_PASSWORD_FILE);
  const kept = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (kept) return kept;
  const made = randomBytes(24).toString('base64url');
  await writeFile(file, `${made}\n`, { mode: 0o600 });
  return made;
}

/**
 * Makes (or refreshes) the login user with the admin connection and returns the URL the API
 * connects with: the admin URL with the login's name and password.
 */
export async function ensureApiLogin(adminUrl: string, stateDir: string): Promise<string> {
  const password = await keptPassword(stateDir);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const database = (await admin.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db ?? '';
    const user = apiLoginName(database);
    const role = admin.escapeIdentifier(user);
    // CREATE ROLE has no IF NOT EXISTS; a concurrent start creating it too is not an error either.
    await admin.query(
      `DO $$ BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`,
    );
    // Utility statements take no parameters: the password is a literal, escaped by the driver.
    await admin.query(
      `ALTER ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${admin.escapeLiteral(password)}`,
    );
    await admin.query(`GRANT iot_api TO ${role}`);
    const url = new URL(adminUrl);
    url.username = user;
    url.password = password;
    return url.toString();
  } finally {
    await admin.end();
  }
}
