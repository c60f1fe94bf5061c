/**
 * The local certificate authority of the MQTT door: the embedded twin of AWS IoT Core's
 * certificate handling. `npm start` (or the first `npm run devices` command) creates it in the
 * state folder; it signs the broker's server certificate and one client certificate per device.
 *
 * Why node-forge: Node's crypto makes keys and verifies certificates but cannot sign one, and the
 * `openssl` binary is not on every laptop. Keys come from Node's crypto (native, fast); forge only
 * assembles and signs the X.509 structure. RSA 2048, as AWS IoT's CreateKeysAndCertificate issues,
 * since forge signs with RSA only.
 *
 * Files (PEM): `ca.crt`, `ca.key` (0600), `server.crt`, `server.key` (0600). A device's private
 * key is never stored here: it is handed to the caller once, to write where the device lives.
 */
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export interface IssuedCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`): what the broker sees on a connection. */
  readonly fingerprint256: string;
  readonly serialNumber: string;
  readonly notAfter: Date;
}

const CA_YEARS = 10;
const LEAF_YEARS = 5;
/** Certificates start a minute early, so a clock a little behind does not refuse them. */
const CLOCK_SKEW_MS = 60_000;

function newRsaKeyPair(): {
  privateKeyPem: string;
  forgePrivate: forge.pki.rsa.PrivateKey;
  forgePublic: forge.pki.PublicKey;
} {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    privateKeyPem: privateKey,
    forgePrivate: forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey,
    forgePublic: forge.pki.publicKeyFromPem(publicKey),
  };
}

/** A positive 128-bit serial (RFC 5280: at most 20 octets, non-negative). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, years: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - CLOCK_SKEW_MS);
  const end = new Date(now);
  end.setUTCFullYear(end.getUTCFullYear() + years);
  cert.validity.notAfter = end;
}

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Writes a file whole or not at all (a crash mid-write must not leave a torn key). */
function writeAtomically(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

/**
 * Runs `create` in one process only: `npm start` and a `devices` command may both open a CA
 * that does not exist yet, and two CAs written over each other would leave a key that does not
 * match its certificate. The loser waits for the winner's files.
 */
function createOnce(dir: string, create: () => void): void {
  const lock = path.join(dir, 'ca.lock');
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch {
    const deadline = Date.now() + 30_000;
    while (!existsSync(path.join(dir, 'ca.crt')) && Date.now() < deadline)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    if (!existsSync(path.join(dir, 'ca.crt')))
      throw new Error(
        `another process holds ${lock} but made no CA; delete the lock file if no process is creating one`,
      );
    return;
  }
  try {
    create();
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

export class LocalCertificateAuthority {
  private constructor(
    readonly dir: string,
    readonly caCertificatePem: string,
    private readonly caCert: forge.pki.Certificate,
    private readonly caKey: forge.pki.rsa.PrivateKey,
  ) {}

  get caCertificatePath(): string {
    return path.join(this.dir, 'ca.crt');
  }

  /** Opens the CA in `dir`, creating it on first use. */
  static open(dir: string): LocalCertificateAuthority {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const certFile = path.join(dir, 'ca.crt');
    const keyFile = path.join(dir, 'ca.key');
    if (!existsSync(certFile) || !existsSync(keyFile))
      createOnce(dir, () => LocalCertificateAuthority.create(certFile, keyFile));
    const pem = readFileSync(certFile, 'utf8');
    const key = forge.pki.privateKeyFromPem(readFileSync(keyFile, 'utf8')) as forge.pki.rsa.PrivateKey;
    return new LocalCertificateAuthority(dir, pem, forge.pki.certificateFromPem(pem), key);
  }

  private static create(certFile: string, keyFile: string): void {
    const keys = newRsaKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.forgePublic;
    cert.serialNumber = newSerial();
    validity(cert, CA_YEARS);
    const name = [
      { name: 'commonName', value: 'IoT First local device CA' },
      { name: 'organizationName', value: 'IoT First (embedded stack)' },
    ];
    cert.setSubject(name);
    cert.setIssuer(name);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.forgePrivate, forge.md.sha256.create());
    // The key first: a certificate without its key would be reopened as a CA that cannot sign.
    writeAtomically(keyFile, keys.privateKeyPem, 0o600);
    writeAtomically(certFile, forge.pki.certificateToPem(cert), 0o644);
  }

  private issue(
    commonName: string,
    usage: 'server' | 'client',
    altNames: readonly { type: number; value?: string; ip?: string }[] = [],
  ): IssuedCertificate {
    const keys = newRsaKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.forgePublic;
    cert.serialNumber = newSerial();
    validity(cert, LEAF_YEARS);
    cert.setSubject([{ name: 'commonName', value: commonName }]);
    cert.setIssuer(this.caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: usage === 'server', clientAuth: usage === 'client' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.caCert.generateSubjectKeyIdentifier().getBytes() },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    ]);
    cert.sign(this.caKey, forge.md.sha256.create());
    const certificatePem = forge.pki.certificateToPem(cert);
    return {
      certificatePem,
      privateKeyPem: keys.privateKeyPem,
      fingerprint256: fingerprintOf(certificatePem),
      serialNumber: cert.serialNumber,
      notAfter: cert.validity.notAfter,
    };
  }

  /** A client certificate whose subject is the thing name (the registry holds the binding). */
  issueDevice(thingName: string): IssuedCertificate {
    return this.issue(thingName, 'client');
  }

  /**
   * The broker's certificate, for 127.0.0.1 and localhost, created once and kept: devices that
   * pinned nothing but the CA keep working across restarts either way.
   */
  serverCredentials(): { readonly cert: string; readonly key: string } {
    const certFile = path.join(this.dir, 'server.crt');
    const keyFile = path.join(this.dir, 'server.key');
    if (!existsSync(certFile) || !existsSync(keyFile)) {
      const issued = this.issue('localhost', 'server', [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
      ]);
      writeAtomically(keyFile, issued.privateKeyPem, 0o600);
      writeAtomically(certFile, issued.certificatePem, 0o644);
    }
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  }
}
