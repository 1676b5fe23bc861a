/** Binding and closing a UDP socket on loopback, shared by the harness's servers and proxies. */
import dgram from 'node:dgram';
import net from 'node:net';

/**
 * Receive buffer asked for (the kernel caps it at net.core.rmem_max). The
 * default, about 208 KiB, holds only a few hundred datagrams with their
 * kernel overhead: a burst of queries to a server whose event loop is busy
 * (a loaded CI machine) would be dropped by the kernel, a loss no test asked for.
 */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * A UDP socket bound to host:port (0: a free port), IPv6-only for an IPv6
 * host; later socket errors (ICMP on an unconnected socket) are swallowed.
 */
export function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', ipv6Only: net.isIPv6(host), recvBufferSize: RECEIVE_BUFFER_BYTES });
    const onError = (err: Error): void => {
      socket.close();
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ address: host, port, exclusive: true }, () => {
      socket.off('error', onError);
      socket.on('error', () => {
        /* ICMP errors etc. on an unconnected socket: nothing to do */
      });
      resolve(socket);
    });
  });
}

/** Close, resolving once closed (or at once when it already was). */
export function closeUdp(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/** Send `message` from `socket` to host:port (default 127.0.0.1), resolving once it left. */
export function sendUdp(socket: dgram.Socket, message: Buffer, port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise((resolve) => socket.send(message, port, host, () => resolve()));
}
