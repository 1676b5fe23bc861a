/**
 * A hostile DNS server in its own process (for bench/hostile-tcp.ts): every
 * UDP query gets a truncated reply, so the client asks again over TCP on the
 * same port, where it gets either `--ladders N` label-ladder messages
 * (harness/hostile-messages.ts: 1,024 records each, every owner name
 * 127 labels, cut short at the end) or, with `--ladders 0`, one genuine
 * one-record A reply. Reports `{ port }` over IPC; exits when the parent
 * disconnects. Messages are built per query (they carry its id), before the
 * write, in this process: none of that work is the measured client's.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { frameMessage } from '../../src/dns/tcp-frames.js';
import { labelLadderMessage } from '../../harness/hostile-messages.js';

const ladders = Number(process.argv[process.argv.indexOf('--ladders') + 1] ?? 7);

const udp = dgram.createSocket('udp4');
udp.on('message', (message, remote) => {
  const query = dnsPacket.decode(message);
  udp.send(dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.TRUNCATED_RESPONSE, questions: query.questions }), remote.port, remote.address);
});
udp.bind(0, '127.0.0.1', () => {
  const { port } = udp.address();
  const tcp = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', (chunk: Buffer) => {
      const query = dnsPacket.decode(chunk.subarray(2));
      const messages =
        ladders > 0
          ? Array.from({ length: ladders }, () => labelLadderMessage(query, 1_024))
          : [dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions, answers: [{ type: 'A', class: 'IN', name: query.questions![0]!.name, ttl: 30, data: '10.0.0.1' }] })];
      socket.end(Buffer.concat(messages.map(frameMessage)));
    });
  });
  tcp.listen({ host: '127.0.0.1', port, exclusive: true }, () => process.send?.({ port }));
  tcp.on('error', (error) => {
    process.stderr.write(`hostile-tcp-server: ${error.message}\n`);
    process.exit(1);
  });
  process.on('disconnect', () => {
    udp.close();
    tcp.close();
    process.exit(0);
  });
});
