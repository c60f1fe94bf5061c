/**
 * Device identities behind `npm run devices`: one interface, two targets. Locally the CA and
 * registry in the state folder (certificate-authority.ts, device-registry.ts); on AWS, IoT's
 * things, certificates and policy attachment (aws-device-directory.ts).
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { LocalCertificateAuthority } from './certificate-authority.js';
import { DeviceRegistry } from './device-registry.js';

export interface RegisteredDevice {
  readonly thingName: string;
  /** AWS's certificate id is the certificate's SHA-256 in hex; the local registry uses the same. */
  readonly certificateId: string;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** The authority devices must trust to reach the broker (the local CA; on AWS, Amazon's root). */
  readonly caCertificatePem?: string | undefined;
}

export interface DeviceListing {
  readonly thingName: string;
  readonly certificateId: string;
  readonly status: string;
  readonly createdAt: string | undefined;
}

export interface DeviceDirectory {
  readonly target: 'local' | 'aws';
  register(thingName: string): Promise<RegisteredDevice>;
  list(): Promise<readonly DeviceListing[]>;
  /** Revokes every active certificate of the thing; resolves with how many. */
  revoke(thingName: string): Promise<number>;
  /** True when this exact certificate is registered and active (to reuse a simulated device). */
  isActive(certificatePem: string): Promise<boolean>;
}

/** AWS IoT's certificate id: the SHA-256 of the DER, lower-case hex. */
export function certificateIdOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/** The local CA's folder inside a state folder. */
export function localCaDir(stateDir: string): string {
  return path.join(stateDir, 'mqtt');
}

export class LocalDeviceDirectory implements DeviceDirectory {
  readonly target = 'local' as const;
  readonly ca: LocalCertificateAuthority;
  readonly registry: DeviceRegistry;

  constructor(stateDir: string) {
    this.ca = LocalCertificateAuthority.open(localCaDir(stateDir));
    this.registry = new DeviceRegistry(localCaDir(stateDir));
  }

  async register(thingName: string): Promise<RegisteredDevice> {
    if (this.registry.active(thingName))
      throw new Error(`${thingName} already has an active certificate; revoke it first to issue a new one`);
    const issued = this.ca.issueDevice(thingName);
    this.registry.add({
      thingName,
      fingerprint256: issued.fingerprint256,
      serialNumber: issued.serialNumber,
      notAfter: issued.notAfter.toISOString(),
    });
    return {
      thingName,
      certificateId: certificateIdOf(issued.certificatePem),
      certificatePem: issued.certificatePem,
      privateKeyPem: issued.privateKeyPem,
      caCertificatePem: this.ca.caCertificatePem,
    };
  }

  async list(): Promise<readonly DeviceListing[]> {
    return this.registry.list().map((c) => ({
      thingName: c.thingName,
      certificateId: c.fingerprint256.replaceAll(':', '').toLowerCase(),
      status: c.status,
      createdAt: c.createdAt,
    }));
  }

  async revoke(thingName: string): Promise<number> {
    return this.registry.revoke(thingName);
  }

  async isActive(certificatePem: string): Promise<boolean> {
    return this.registry.byFingerprint(new X509Certificate(certificatePem).fingerprint256)?.status === 'ACTIVE';
  }
}
