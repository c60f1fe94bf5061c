/**
 * The local device registry: which certificate belongs to which thing, and whether it is
 * active. The embedded twin of IoT's things, certificates and their attachment. One JSON file
 * in the CA's folder, replaced atomically on every change, re-read by the broker when it
 * changes, so `npm run devices -- revoke` takes effect on the running broker's next connection.
 *
 * Only certificates and their status are kept; a device's private key never is.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const certificateEntrySchema = z.object({
  thingName: z.string(),
  fingerprint256: z.string(),
  serialNumber: z.string(),
  status: z.enum(['ACTIVE', 'REVOKED']),
  createdAt: z.string(),
  revokedAt: z.string().optional(),
  notAfter: z.string(),
});
export type CertificateEntry = z.output<typeof certificateEntrySchema>;

const registrySchema = z.object({ version: z.literal(1), certificates: z.array(certificateEntrySchema) });
type RegistryFile = z.output<typeof registrySchema>;

export class DeviceRegistry {
  private cached: { mtimeMs: number; size: number; ino: number; data: RegistryFile } | undefined;

  constructor(readonly dir: string) {}

  get file(): string {
    return path.join(this.dir, 'registry.json');
  }

  /** The registry as on disk now; re-read only when the file changed (the broker calls this per connection). */
  private read(): RegistryFile {
    if (!existsSync(this.file)) return { version: 1, certificates: [] };
    const stat = statSync(this.file);
    if (this.cached?.mtimeMs === stat.mtimeMs && this.cached.size === stat.size && this.cached.ino === stat.ino)
      return this.cached.data;
    const data = registrySchema.parse(JSON.parse(readFileSync(this.file, 'utf8')));
    this.cached = { mtimeMs: stat.mtimeMs, size: stat.size, ino: stat.ino, data };
    return data;
  }

  private write(data: RegistryFile): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.cached = undefined;
  }

  /** Every certificate ever registered, newest last. */
  list(): readonly CertificateEntry[] {
    return this.read().certificates;
  }

  /** The certificate a connection presented, when the registry knows it. */
  byFingerprint(fingerprint256: string): CertificateEntry | undefined {
    return this.read().certificates.find((c) => c.fingerprint256 === fingerprint256);
  }

  active(thingName: string): CertificateEntry | undefined {
    return this.read().certificates.find((c) => c.thingName === thingName && c.status === 'ACTIVE');
  }

  add(entry: Omit<CertificateEntry, 'status' | 'createdAt' | 'revokedAt'>, now = new Date()): CertificateEntry {
    const data = this.read();
    const added: CertificateEntry = { ...entry, status: 'ACTIVE', createdAt: now.toISOString() };
    this.write({ ...data, certificates: [...data.certificates, added] });
    return added;
  }

  /** Revokes every active certificate of the thing; returns how many. */
  revoke(thingName: string, now = new Date()): number {
    const data = this.read();
    let revoked = 0;
    const certificates = data.certificates.map((c) => {
      if (c.thingName !== thingName || c.status !== 'ACTIVE') return c;
      revoked++;
      return { ...c, status: 'REVOKED' as const, revokedAt: now.toISOString() };
    });
    if (revoked > 0) this.write({ ...data, certificates });
    return revoked;
  }
}
