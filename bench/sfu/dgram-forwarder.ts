/**
 * The baseline of the forwarding-efficiency bench, run as its own child process: one UDP socket
 * on 127.0.0.1 receives and sends every datagram, unchanged, to K destination ports. Nothing
 * else (no parsing, no counters on the packet path), so its CPU per packet is the floor of a
 * Node.js forwarder. Usage: node dgram-forwarder.js LISTEN_PORT PORT,PORT,... ; prints
 * "ready PORT"; exits on SIGTERM or when stdin closes. Never binds beyond loopback.
 */
import { createSocket } from 'node:dgram';

function main(): void {
  const listen = Number(process.argv[2]);
  const dests = (process.argv[3] ?? '')
    .split(',')
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
  if (!Number.isInteger(listen) || listen <= 0 || dests.length === 0) {
    process.stderr.write('usage: dgram-forwarder LISTEN_PORT PORT,PORT,...\n');
    process.exit(2);
  }
  const sock = createSocket('udp4');
  sock.on('message', (msg) => {
    for (let i = 0; i < dests.length; i++) sock.send(msg, dests[i] as number, '127.0.0.1');
  });
  sock.on('error', (e) => {
    process.stderr.write(`forwarder socket error: ${e.message}\n`);
  });
  sock.bind(listen, '127.0.0.1', () => process.stdout.write(`ready ${listen}\n`));
  const stop = (): void => {
    sock.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main();
