import net from 'node:net';

/**
 * A free loopback port chosen by the OS, so parallel runs on one machine (tests, benchmarks,
 * several people's stacks) never collide. The port is free when returned; a caller that loses
 * the race to bind it retries.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
