/**
 * The command's error lines, one per code, each made as the DNS client
 * makes it (a try's failure, then the query's after every try): one
 * sentence, the name first, at most one parenthesis, the code said once
 * (issue 22: `… refused (ICMP port unreachable: …) for x A and AAAA (2
 * attempts on …)`). `--json` carries the same message.
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli/args.js';
import { Reporter } from '../src/cli/report.js';
import { DnsError, abortedError, cannotAsk, closedError, idsExhausted, mostTellingError, nothingThere, rcodeError, socketError } from '../src/dns/errors.js';
import { TryQuestion, unansweredError } from '../src/dns/reply-reader.js';
import { RCODE } from '../src/dns/wire.js';

const AT = new Date('2026-11-29T12:00:00.000Z');
const NAME = 'my-svc.ns.svc.cluster.test';
const SERVER = '10.96.0.10:53';
const OTHER = '10.96.0.11:53';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`send ${code} ${SERVER}`), { code });
}

/** A try's failure over UDP, as the client's reply reader says it (`defect`: the last unusable reply's). */
function unanswered(type: 'A' | 'AAAA', defect?: string): DnsError {
  const question = new TryQuestion(1, NAME, type, SERVER, 1232);
  question.defect = defect;
  return unansweredError(question, 'UDP', 5000);
}

/** The query's error after `tries` (each a try's failure), as DnsClient throws it: 2 attempts on `servers`. */
function afterTries(tries: DnsError[], servers = [SERVER], extraTries = 0): DnsError {
  return mostTellingError(tries, NAME, 'A', servers, 2, extraTries);
}

const ASK = `could not ask DNS for ${NAME}`;

/** [what, error, the line after "error CODE: " with --family 0]. */
const LINES: Array<[string, DnsError, string]> = [
  ['no reply', afterTries([unanswered('A'), unanswered('A')]), `${ASK} A and AAAA: no reply from ${SERVER} within 5000 ms (2 attempts)`],
  [
    'no reply from two servers, tries added within the deadline',
    afterTries([unanswered('A'), unanswered('A')], [SERVER, OTHER], 2),
    `${ASK} A and AAAA: no reply from ${SERVER} within 5000 ms (2 attempts and 2 more tries within the poll's deadline on ${SERVER} and ${OTHER})`,
  ],
  [
    'a closed port',
    afterTries([socketError(NAME, 'A', SERVER, 'UDP', errno('ECONNREFUSED')), socketError(NAME, 'A', SERVER, 'UDP', errno('ECONNREFUSED'))]),
    `${ASK} A and AAAA: nothing listens on ${SERVER} (connection refused, 2 attempts)`,
  ],
  ['SERVFAIL', afterTries([unanswered('A'), rcodeError(RCODE.SERVFAIL, NAME, 'A', SERVER)]), `${ASK} A and AAAA: ${SERVER} answered SERVFAIL (2 attempts)`],
  ['REFUSED', afterTries([rcodeError(RCODE.REFUSED, NAME, 'A', SERVER)]), `${ASK} A and AAAA: ${SERVER} answered REFUSED (2 attempts)`],
  ['another rcode', afterTries([rcodeError(4, NAME, 'A', SERVER)]), `${ASK} A and AAAA: ${SERVER} answered NOTIMP (2 attempts)`],
  ['a send that fails', afterTries([socketError(NAME, 'A', SERVER, 'send', errno('EHOSTUNREACH'))]), `${ASK} A and AAAA: cannot send to ${SERVER} (EHOSTUNREACH, 2 attempts)`],
  [
    'a refused TCP connection after a truncated reply',
    afterTries([socketError(NAME, 'A', SERVER, 'TCP', errno('ECONNREFUSED'))]),
    `${ASK} A and AAAA: the TCP connection to ${SERVER} failed (ECONNREFUSED, 2 attempts)`,
  ],
  ['no nameserver', cannotAsk('NETWORK', NAME, 'A', 'no nameserver to ask'), `${ASK} A and AAAA: no nameserver to ask`],
  [
    'an unusable reply',
    afterTries([unanswered('A', 'an A record with 5 bytes of data where an IPv4 address has 4')]),
    `${ASK} A and AAAA: ${SERVER} sent an unusable reply: an A record with 5 bytes of data where an IPv4 address has 4 (2 attempts)`,
  ],
  ['a CNAME loop', cannotAsk('BADRESPONSE', NAME, 'A', 'its CNAME chain loops back to a.test'), `${ASK} A and AAAA: its CNAME chain loops back to a.test`],
  ['every query id in use', afterTries([idsExhausted(NAME, 'A')]), `${ASK} A and AAAA: all 65536 query ids are in use (2 attempts)`],
  ['a query given up', abortedError(AbortSignal.abort('the poll was given up'), NAME, 'A'), `${ASK} A and AAAA: gave up before an answer came (the poll was given up)`],
  ['the resolver closed', closedError(NAME), `${ASK}: the resolver was closed`],
  ['NXDOMAIN', nothingThere('NXDOMAIN', 'my-svc', 'my-svc does not exist', ['NXDOMAIN']), 'my-svc does not exist'],
  [
    'NXDOMAIN where a candidate could not be asked',
    nothingThere('NXDOMAIN', 'my-svc', 'my-svc does not exist', ['NXDOMAIN', `${NAME} could not be asked: TIMEOUT`]),
    `my-svc does not exist (${NAME} could not be asked: TIMEOUT)`,
  ],
  ['NODATA', nothingThere('NODATA', 'my-svc', 'my-svc exists but has no A or AAAA records'), 'my-svc exists but has no A or AAAA records'],
];

function reporter(args: string[]) {
  const command = parseCommandLine([...args, NAME]);
  if (command.kind !== 'run') throw new Error('expected a run');
  const out = { stdout: '', stderr: '' };
  const report = new Reporter(command.config, { write: (s: string) => (out.stdout += s) }, { write: (s: string) => (out.stderr += s) }, () => AT);
  return { report, out };
}

describe('the error line of each code', () => {
  it.each(LINES)('%s', (_what, error, expected) => {
    const { report, out } = reporter([]);
    report.error(error);
    expect(out.stderr).toBe(`${AT.toISOString()}  error ${error.code}: ${expected}\n`);
    // One sentence: the name before the cause, at most one parenthesis, the code not said twice.
    const text = out.stderr.slice(out.stderr.indexOf(': ') + 2);
    const clause = text.includes(': ') ? text.indexOf(': ') : text.length;
    expect(text.indexOf(error.hostname)).toBeGreaterThanOrEqual(0);
    expect(text.indexOf(error.hostname)).toBeLessThan(clause);
    expect(text.split('(').length).toBeLessThanOrEqual(2);
    expect(text).not.toMatch(new RegExp(`[(, ]${error.code}[),]`));

    // --json: the same message, as the library has it.
    const json = reporter(['--json']);
    json.report.error(error);
    const event = JSON.parse(json.out.stdout) as { code: string; message: string; authoritative: boolean };
    expect(event).toMatchObject({ code: error.code, authoritative: error.authoritative });
    expect(event.message.charAt(0).toLowerCase() + event.message.slice(1)).toBe(expected);
  });

  it('names the record type asked with one family, and the library message says the same sentence', () => {
    const error = afterTries([socketError(NAME, 'A', SERVER, 'UDP', errno('ECONNREFUSED'))]);
    expect(error.message).toBe(`Could not ask DNS for ${NAME} A: nothing listens on ${SERVER} (connection refused, 2 attempts)`);
    const { report, out } = reporter(['--family', '4']);
    report.error(error);
    expect(out.stderr).toBe(`${AT.toISOString()}  error CONNREFUSED: ${ASK} A: nothing listens on ${SERVER} (connection refused, 2 attempts)\n`);
  });

  it('warns about a family that failed beside the other as one sentence too', () => {
    const { report, out } = reporter([]);
    report.addresses([{ address: '10.0.0.1', family: 4, ttl: 5 }], AT, { failedFamilies: [{ family: 6, code: 'SERVFAIL', message: `Could not ask DNS for ${NAME} AAAA: ${SERVER} answered SERVFAIL (1 attempt)` }] });
    expect(out.stderr).toBe(`${AT.toISOString()}  warning SERVFAIL: ${ASK} AAAA: ${SERVER} answered SERVFAIL (1 attempt); showing IPv4 addresses only\n`);
  });
});
