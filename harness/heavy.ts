/**
 * Scenarios too long for `npm test` (minutes of real time, or thousands of
 * names) run only when GRPC_DNS_WATCH_HEAVY=1: `npm run test:stress`
 * (scripts/stress-test.sh) sets it beside its CPU burners. Each has a
 * lighter version that `npm test` runs; the test that gates one names it.
 */
export const HEAVY = process.env.GRPC_DNS_WATCH_HEAVY === '1';
