/**
 * Where a device's certificate and private key are written: a folder outside the checkout (a key
 * inside it is one `git add .` away from being published). Never printed, never logged.
 *
 * Default: `~/.iot-first/devices/<thing>/`, the same folder for `register` and `simulate`, so
 * simulated devices keep their identity across runs. The file names follow AWS IoT's downloads.
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export const DEVICE_FILES = {
  certificate: 'certificate.pem.crt',
  privateKey: 'private.pem.key',
  ca: 'ca.pem',
} as const;

export function defaultDevicesDir(): string {
  return path.join(homedir(), '.iot-first', 'devices');
}

/** The nearest existing ancestor's real path, so symlinks cannot smuggle a folder into the checkout. */
function realOrNearest(target: string): string {
  let current = path.resolve(target);
  const rest: string[] = [];
  while (!existsSync(current)) {
    rest.unshift(path.basename(current));
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  return path.join(realpathSync(current), ...rest);
}

/** Throws when `dir` is inside the project's checkout. */
export function assertOutsideCheckout(dir: string, root: string = PROJECT_ROOT): void {
  const target = realOrNearest(dir);
  const checkout = realOrNearest(root);
  const relative = path.relative(checkout, target);
  if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative)))
    throw new Error(
      `refusing to write a device's private key inside the checkout (${target}); choose a folder outside ${checkout} with --out`,
    );
}

export interface DeviceFilePaths {
  readonly dir: string;
  readonly certificate: string;
  readonly privateKey: string;
  readonly ca: string;
}

export function deviceFilePaths(dir: string): DeviceFilePaths {
  return {
    dir,
    certificate: path.join(dir, DEVICE_FILES.certificate),
    privateKey: path.join(dir, DEVICE_FILES.privateKey),
    ca: path.join(dir, DEVICE_FILES.ca),
  };
}

export function writeDeviceFiles(
  dir: string,
  files: { certificatePem: string; privateKeyPem: string; caCertificatePem?: string | undefined },
): DeviceFilePaths {
  assertOutsideCheckout(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths = deviceFilePaths(dir);
  writeFileSync(paths.privateKey, files.privateKeyPem, { mode: 0o600 });
  writeFileSync(paths.certificate, files.certificatePem, { mode: 0o644 });
  if (files.caCertificatePem) writeFileSync(paths.ca, files.caCertificatePem, { mode: 0o644 });
  return paths;
}

/** A device's certificate and key, when both files are there. */
export function readDeviceFiles(dir: string): { certificatePem: string; privateKeyPem: string } | undefined {
  const paths = deviceFilePaths(dir);
  if (!existsSync(paths.certificate) || !existsSync(paths.privateKey)) return undefined;
  return {
    certificatePem: readFileSync(paths.certificate, 'utf8'),
    privateKeyPem: readFileSync(paths.privateKey, 'utf8'),
  };
}
