/**
 * `npm run devices -- --target aws`: the same commands against AWS IoT Core, with IoT's own
 * APIs: a thing per device, a certificate and key made by IoT (CreateKeysAndCertificate, the key
 * is returned once and written to the device's folder), the stack's device policy
 * (topology `mqttDoor.policyName`, deployed by infra/) attached to the certificate, and the
 * certificate attached to the thing, so the policy's thing-name variables resolve.
 */
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  IoTClient,
  ListThingPrincipalsCommand,
  ListThingsCommand,
  ResourceAlreadyExistsException,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  certificateIdOf,
  type DeviceDirectory,
  type DeviceListing,
  type RegisteredDevice,
} from './device-directory.js';

export class AwsDeviceDirectory implements DeviceDirectory {
  readonly target = 'aws' as const;

  constructor(
    private readonly iot: IoTClient,
    private readonly policyName: string,
  ) {}

  static fromEnvironment(policyName: string): AwsDeviceDirectory {
    return new AwsDeviceDirectory(new IoTClient({ region: process.env.AWS_REGION }), policyName);
  }

  /** The account's ATS data endpoint, as devices must use it. */
  async endpoint(): Promise<string> {
    const out = await this.iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));
    return `mqtts://${out.endpointAddress}:8883`;
  }

  async register(thingName: string): Promise<RegisteredDevice> {
    try {
      await this.iot.send(new CreateThingCommand({ thingName }));
    } catch (error) {
      if (!(error instanceof ResourceAlreadyExistsException)) throw error;
    }
    const cert = await this.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    const arn = cert.certificateArn as string;
    await this.iot.send(new AttachPolicyCommand({ policyName: this.policyName, target: arn }));
    await this.iot.send(new AttachThingPrincipalCommand({ thingName, principal: arn }));
    const certificatePem = cert.certificatePem as string;
    return {
      thingName,
      certificateId: cert.certificateId ?? certificateIdOf(certificatePem),
      certificatePem,
      privateKeyPem: cert.keyPair?.PrivateKey as string,
    };
  }

  private async certificatesOf(thingName: string): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.iot.send(new ListThingPrincipalsCommand({ thingName, nextToken }));
      arns.push(...(out.principals ?? []).filter((p) => p.includes(':cert/')));
      nextToken = out.nextToken;
    } while (nextToken);
    return arns;
  }

  async list(): Promise<readonly DeviceListing[]> {
    const listings: DeviceListing[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.iot.send(new ListThingsCommand({ nextToken }));
      for (const thing of out.things ?? []) {
        const thingName = thing.thingName as string;
        for (const arn of await this.certificatesOf(thingName)) {
          const certificateId = arn.split('/').pop() as string;
          const described = await this.iot.send(new DescribeCertificateCommand({ certificateId }));
          listings.push({
            thingName,
            certificateId,
            status: described.certificateDescription?.status ?? 'UNKNOWN',
            createdAt: described.certificateDescription?.creationDate?.toISOString(),
          });
        }
      }
      nextToken = out.nextToken;
    } while (nextToken);
    return listings;
  }

  async revoke(thingName: string): Promise<number> {
    let revoked = 0;
    for (const arn of await this.certificatesOf(thingName)) {
      const certificateId = arn.split('/').pop() as string;
      const described = await this.iot.send(new DescribeCertificateCommand({ certificateId }));
      if (described.certificateDescription?.status !== 'ACTIVE') continue;
      await this.iot.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
      revoked++;
    }
    return revoked;
  }

  async isActive(certificatePem: string): Promise<boolean> {
    try {
      const described = await this.iot.send(
        new DescribeCertificateCommand({ certificateId: certificateIdOf(certificatePem) }),
      );
      return described.certificateDescription?.status === 'ACTIVE';
    } catch {
      return false;
    }
  }
}
