/**
 * Nameserver health (src/dns/server-health.ts): which server a try goes to,
 * how rotation and failures order them, and when a failed one is probed.
 */
import { describe, expect, it } from 'vitest';
import { PROBE_CHANCE, PROBE_DELAY_MS, SERVER_FAILURES_CAP, ServerHealth, nextServer, probeTarget } from '../src/dns/server-health.js';

function servers(count: number): Array<{ name: string; health: ServerHealth }> {
  return Array.from({ length: count }, (_, i) => ({ name: `s${i}`, health: new ServerHealth() }));
}

/** The order one round visits the servers in. */
function round(list: ReadonlyArray<{ name: string; health: ServerHealth }>, offset = 0): string[] {
  const asked = list.map(() => false);
  const order: string[] = [];
  for (let index = nextServer(list, asked, offset); index !== -1; index = nextServer(list, asked, offset)) {
    asked[index] = true;
    order.push(list[index]!.name);
  }
  return order;
}

describe('nextServer: healthy first, then the one that failed longest ago, then list order', () => {
  it('asks every server once per round, in list order while all are healthy', () => {
    expect(round(servers(3))).toEqual(['s0', 's1', 's2']);
  });

  it('a failed server goes last; among failed ones, the one that failed longest ago comes first', () => {
    const list = servers(3);
    list[0]!.health.failed(1_000);
    expect(round(list)).toEqual(['s1', 's2', 's0']);
    list[1]!.health.failed(2_000);
    expect(round(list)).toEqual(['s2', 's0', 's1']);
    // Everyone failed once: s2 failed last.
    list[2]!.health.failed(3_000);
    expect(round(list)).toEqual(['s0', 's1', 's2']);
    list[0]!.health.failed(4_000);
    expect(round(list)).toEqual(['s1', 's2', 's0']);
    // A good reply puts it back in front.
    list[0]!.health.good();
    expect(round(list)).toEqual(['s0', 's1', 's2']);
  });

  it('rotation shifts the start among equally healthy servers; a failed one still comes last', () => {
    const list = servers(3);
    expect([0, 1, 2, 3].map((offset) => round(list, offset % 3)[0])).toEqual(['s0', 's1', 's2', 's0']);
    expect(round(list, 1)).toEqual(['s1', 's2', 's0']);
    list[1]!.health.failed(0);
    expect(round(list, 1)).toEqual(['s2', 's0', 's1']);
  });

  it(`counts at most SERVER_FAILURES_CAP (${SERVER_FAILURES_CAP}) consecutive failures`, () => {
    const health = new ServerHealth();
    for (let i = 0; i < 100; i++) health.failed(i);
    expect(health.failures).toBe(SERVER_FAILURES_CAP);
    expect(health.nextProbeAt).toBe(99 + PROBE_DELAY_MS);
  });
});

describe(`probeTarget: one fresh query in PROBE_CHANCE (${PROBE_CHANCE}) probes a failed server ${PROBE_DELAY_MS} ms after its last failure`, () => {
  it('only a failed server past its probe time, without a probe out, and not the one being asked', () => {
    const list = servers(2);
    const [dead, live] = list as [(typeof list)[0], (typeof list)[0]];
    const always = (): number => 0;
    expect(probeTarget(list, live, 0, always)).toBeUndefined(); // nobody failed
    dead.health.failed(1_000);
    expect(probeTarget(list, live, 1_000 + PROBE_DELAY_MS - 1, always)).toBeUndefined();
    expect(probeTarget(list, live, 1_000 + PROBE_DELAY_MS, always)).toBe(dead);
    expect(probeTarget(list, dead, 1_000 + PROBE_DELAY_MS, always)).toBeUndefined(); // its own try exercises it
    dead.health.probing = true;
    expect(probeTarget(list, live, 1_000 + PROBE_DELAY_MS, always)).toBeUndefined();
  });

  it('draws the chance: below 1 / PROBE_CHANCE probes, above does not', () => {
    const list = servers(2);
    list[0]!.health.failed(0);
    const now = PROBE_DELAY_MS;
    expect(probeTarget(list, list[1]!, now, () => 1 / PROBE_CHANCE - 0.001)).toBe(list[0]);
    expect(probeTarget(list, list[1]!, now, () => 1 / PROBE_CHANCE)).toBeUndefined();
    let probes = 0;
    for (let i = 0; i < 10_000; i++) if (probeTarget(list, list[1]!, now, Math.random)) probes++;
    expect(probes).toBeGreaterThan(700);
    expect(probes).toBeLessThan(1_300);
  });
});
