/**
 * The UDP sockets of one nameserver (src/dns/udp-lane.ts): the bound on open
 * sockets holds by their descriptors, also when every socket of the lane
 * closes in one turn (a storm of timeouts) and the next query needs one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { systemTimers } from '../src/dns/timers.js';
import { UdpLane } from '../src/dns/udp-lane.js';
import { udpDescriptorCount } from '../harness/resolver-helpers.js';
import { waitUntil } from '../harness/wait.js';

const lanes: UdpLane[] = [];
afterEach(() => {
  for (const lane of lanes.splice(0)) lane.close();
});

function newLane(maxSockets: number): UdpLane {
  // Nothing listens on port 9 of 127.0.0.1 (discard): the lane only sends.
  const lane = new UdpLane({ host: '127.0.0.1', port: 9 }, { maxQueriesPerPort: 1, maxAgeMs: 60_000, maxSockets, timers: systemTimers }, { message: () => {}, error: () => {} });
  lanes.push(lane);
  return lane;
}

describe('UdpLane', () => {
  it('every socket retired and closed in one turn: the next query opens one, and the count stays within the bound', async () => {
    const before = udpDescriptorCount();
    const lane = newLane(2);
    // One query per port: each port is done after its query, as a timeout retires it.
    const first = [lane.take(0), lane.take(1)];
    expect(lane.socketCount).toBe(2);
    for (const port of first) {
      lane.retire(port);
      lane.release(port);
    }
    // In the same turn, both closing: the next query still gets a socket, and the lane counts it alone.
    const next = lane.take(0);
    expect(next.closed).toBe(false);
    expect(lane.socketCount).toBe(1);
    expect(udpDescriptorCount() - before).toBeLessThanOrEqual(2);
    lane.release(next);
    lane.close();
    await waitUntil(() => udpDescriptorCount() === before, 'every descriptor released', 2_000, 10);
  });

  it('at the bound a query borrows an open socket instead of opening one', () => {
    const lane = newLane(2);
    const a = lane.take(0);
    const b = lane.take(1);
    // Both still in flight (one query each, so both due to be replaced): no room for a third.
    const c = lane.take(0);
    expect([a, b]).toContain(c);
    expect(lane.socketCount).toBe(2);
    for (const port of [a, b, c]) lane.release(port);
  });
});
