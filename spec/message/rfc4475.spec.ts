/**
 * RFC 4475, SIP Torture Test Messages, run against the message layer.
 *
 * The fixtures are the members of the RFC's Appendix A archive, byte for byte
 * (spec/fixtures/rfc4475/, described with per-message verdicts in MANIFEST.json). A message the
 * RFC calls valid must parse and yield the values the RFC describes; a message it calls invalid
 * must throw SipParseError with the status the RFC names. Messages of sections 3.2 and 3.3 that
 * are well formed but semantically odd must parse: answering 416, 420, 483... is the job of the
 * layers above, and the manifest says what they should do.
 */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { parse, parseUri, uriEquals, SipParseError } from '../../lib/index.js';
import { tortureFixtures } from '../support/torture-fixtures.js';

interface ManifestEntry {
  name: string;
  file: string;
  section: string;
  size: number;
  sha256: string;
  verdict: 'valid' | 'invalid';
  status?: number;
}
const { manifest, load, request, response } = tortureFixtures<ManifestEntry>('rfc4475');

/** parse() must throw a SipParseError (never anything else) carrying `status`. */
function rejected(name: string, status: number): SipParseError {
  let error: unknown;
  try {
    parse(load(name));
  } catch (e) {
    error = e;
  }
  expect(error, `${name} must be rejected`).to.be.instanceOf(SipParseError);
  const e = error as SipParseError;
  expect(e.code).to.equal('ERR_SIP_PARSE');
  expect(e.status, `${name}: status`).to.equal(status);
  return e;
}

/** A parameter looked up without regard to the case of its name (parameter names are case-insensitive). */
function param(params: Record<string, string | null>, name: string): string | null | undefined {
  const want = name.toLowerCase();
  for (const key of Object.keys(params)) if (key.toLowerCase() === want) return params[key];
  return undefined;
}

function hasParam(params: Record<string, string | null>, name: string): boolean {
  return param(params, name) !== undefined;
}

/** The octets of a header value or reason phrase, whether the parser kept it as latin1 text of the bytes or decoded it. */
function octets(s: string): Buffer {
  return /[^\u0000-\u00ff]/.test(s) ? Buffer.from(s, 'utf8') : Buffer.from(s, 'latin1');
}

/** LWS collapsed to one SP: RFC 3261 §7.3.1 lets a parser replace folding and runs of LWS with a single SP. */
function lws(s: string | undefined): string | undefined {
  return s === undefined ? undefined : s.replace(/[ \t\r\n]+/g, ' ').trim();
}

describe('RFC 4475 SIP torture test messages (message layer)', () => {
  it('the fixtures are the RFC archive bytes recorded in MANIFEST.json, one per RFC message', () => {
    expect(manifest.messages).to.have.length(49);
    for (const m of manifest.messages) {
      const bytes = load(m.name);
      expect(bytes.length, `${m.file} size`).to.equal(m.size);
      expect(createHash('sha256').update(bytes).digest('hex'), `${m.file} sha256 (CRLF must not be normalized)`).to.equal(m.sha256);
    }
  });

  describe('3.1.1 Valid Messages', () => {
    it('3.1.1.1 wsinv: all elements treat this short tortuous INVITE (folding, LWS, compact forms, leading zeros) as well formed', () => {
      const m = request('wsinv');
      expect(m.method).to.equal('INVITE');
      expect(m.uri.scheme).to.equal('sip');
      expect(m.uri.user).to.equal('vivekg');
      expect(m.uri.host).to.equal('chair-dnrc.example.com');
      expect(hasParam(m.uri.params, 'unknownparam'), 'unknown Request-URI parameter').to.equal(true);
      expect(param(m.uri.params, 'unknownparam'), 'a uri parameter with no value').to.equal(null);

      expect(m.to.uri.user).to.equal('vivekg');
      expect(m.to.uri.host).to.equal('chair-dnrc.example.com');
      expect(m.to.tag).to.equal('1918181833n');
      // "J Rosenberg \\\"" : escaped characters within quotes
      expect(m.from.displayName).to.equal('J Rosenberg \\"');
      expect(String(m.from.uri)).to.equal('sip:jdrosen@example.com');
      expect(m.from.tag).to.equal('98asjd8');

      expect(m.maxForwards, 'Max-Forwards 0068').to.equal(68);
      expect(m.cseq).to.deep.equal({ seq: 9, method: 'INVITE' });
      expect(m.callId).to.equal('wsinv.ndaksdj@192.0.2.1');

      // Via and v: mixed, comma-separated and separately listed
      expect(m.via).to.have.length(3);
      expect(m.via.map((v) => [v.protocol, v.transport, v.host, v.port, v.branch])).to.deep.equal([
        ['SIP/2.0', 'UDP', '192.0.2.2', undefined, '390skdjuw'],
        ['SIP/2.0', 'TCP', 'spindle.example.com', undefined, 'z9hG4bK9ikj8'],
        ['SIP/2.0', 'UDP', '192.168.255.111', undefined, 'z9hG4bK30239'],
      ]);

      expect(m.has('Subject'), 'an empty subject (s :)').to.equal(true);
      expect(m.get('subject')).to.equal('');
      expect(lws(m.get('NewFangledHeader'))).to.equal('newfangled value continued newfangled value');
      // parsed as a header value, not as comma-separated values with parameters
      expect(m.get('UnknownHeaderWithUnusualValue')).to.equal(';;,,;;,;');

      expect(m.route).to.have.length(1);
      const route = m.route[0]!;
      expect(route.uri.host).to.equal('services.example.com');
      expect(param(route.uri.params, 'lr')).to.equal(null);
      expect(param(route.uri.params, 'unknownwith')).to.equal('value');
      expect(param(route.uri.params, 'unknown-no-value')).to.equal(null);

      expect(m.contact).to.have.length(1);
      const contact = m.contact[0]!;
      expect(contact.displayName).to.equal('Quoted string ""');
      expect(String(contact.uri)).to.equal('sip:jdrosen@example.com');
      expect(param(contact.params, 'newparam')).to.equal('newvalue');
      expect(param(contact.params, 'secondparam'), 'a header parameter with no value').to.equal(null);
      expect(param(contact.params, 'q')).to.equal('0.33');

      expect(m.contentType).to.equal('application/sdp');
      expect(m.contentLength).to.equal(150);
      expect(m.body.length).to.equal(150);
      expect(m.body.subarray(0, 5).toString('latin1')).to.equal('v=0\r\n');
    });

    it('3.1.1.2 intmeth: a method, Request-URI, branch, display names, Call-ID and header name using every legal token/word character are accepted', () => {
      const method = "!interesting-Method0123456789_*+`.%indeed'~";
      const m = request('intmeth');
      expect(m.method, '% is not an escape in a method').to.equal(method);
      expect(m.uri.user).to.equal("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      expect(m.uri.password).to.equal("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      expect(m.uri.host).to.equal('example.com');

      expect(m.via).to.have.length(1);
      expect(m.via[0]!.branch, 'a branch with all non-alphanum token characters').to.equal("z9hG4bK-.!%66*_+`'~");

      // quoted-pair expansions, including a quoted NUL
      expect(m.to.displayName).to.equal('BEL:\u0007 NUL:\u0000 DEL:\u007f');
      expect(m.to.uri.user).to.equal("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      expect(m.to.uri.password).to.equal(undefined);

      // display name made of several tokens
      expect(lws(m.from.displayName ?? undefined)).to.equal("token1~` token2'+_ token3*%!.-");
      expect(String(m.from.uri)).to.equal('sip:mundane@example.com');
      expect(m.from.tag).to.equal("_token~1'+`*%!-.");
      const fromParam = param(m.from.params, "fromParam''~+*_!.-%");
      expect(fromParam, 'unknown header parameter with a UTF-8 quoted value').to.be.a('string');
      expect(octets(fromParam as string).toString('utf8')).to.contain('работающий');

      expect(m.callId, '% and " are not special in a Call-ID').to.equal("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
      expect(m.cseq).to.deep.equal({ seq: 139122385, method });
      expect(m.maxForwards).to.equal(255);

      const ext = m.get("extensionHeader-!.%*+_`'~");
      expect(ext, 'extension header with non-alphanum token characters in its name').to.be.a('string');
      expect(octets(ext as string).equals(Buffer.from('EFBBBFE5A4A7E5819CE99BBB', 'hex')), 'UTF8-NONASCII value kept').to.equal(true);
      expect(m.contentLength).to.equal(0);
      expect(m.body.length).to.equal(0);
    });

    it('3.1.1.3 esc01: % HEX HEX escapes in userparts and URI parameters are accepted and mean the escaped character (not recursively)', () => {
      const m = request('esc01');
      expect(m.method).to.equal('INVITE');
      expect(m.uri.user, 'sips:user@example.com embedded in the userpart').to.equal('sips:user@example.com');
      expect(m.uri.host).to.equal('example.net');
      expect(m.to.uri.user, 'sip:%75se%72@example.com').to.equal('user');
      expect(m.from.uri.user).to.equal('I have spaces');
      expect(m.from.tag).to.equal('938');
      expect(m.callId, 'compact i: Call-ID').to.equal('esc01.239409asdfakjkn23onasd0-3234');
      expect(m.contentType, 'compact c: Content-Type').to.equal('application/sdp');

      expect(m.contact).to.have.length(1);
      const uri = m.contact[0]!.uri;
      expect(uri.user).to.equal('caller');
      expect(uri.host).to.equal('host5.example.net');
      expect(hasParam(uri.params, 'lr'), '%6C%72 is the parameter lr').to.equal(true);
      expect(param(uri.params, 'name'), 'n%61me=v%61lue%25%34%31 has the value value%41').to.equal('value%41');
      expect(uriEquals(uri, parseUri('sip:caller@host5.example.net;lr;name=value%2541'))).to.equal(true);
      expect(uriEquals(uri, parseUri('sip:caller@host5.example.net;lr;name=valueA')), 'value%41 is NOT equivalent to valueA').to.equal(false);
      expect(m.body.length).to.equal(150);
    });

    it('3.1.1.4 escnull: escaped NULs in userparts are accepted without shortening the user, and the two Contacts stay distinct', () => {
      const m = request('escnull');
      expect(m.method).to.equal('REGISTER');
      expect(m.to.uri.user).to.equal('null-\u0000-null');
      expect(m.to.uri.user).to.have.length(11);
      expect(m.from.uri.user).to.equal('null-\u0000-null');
      expect(m.from.tag).to.equal('839923423');
      expect(m.contact).to.have.length(2);
      expect(m.contact[0]!.uri.user).to.equal('\u0000');
      expect(m.contact[1]!.uri.user).to.equal('\u0000\u0000');
      expect(uriEquals(m.contact[0]!.uri, m.contact[1]!.uri), 'two distinct contact URIs').to.equal(false);
      expect(m.contentLength, 'L:0').to.equal(0);
    });

    it('3.1.1.5 esc02: % is not an escape in a method, display name, branch or header name: RE%47IST%45R is an unknown method and C%6Fntact is not a Contact', () => {
      const m = request('esc02');
      expect(m.method).to.equal('RE%47IST%45R');
      expect(m.method).to.not.equal('REGISTER');
      expect(m.to.displayName).to.equal('%Z%45');
      expect(m.from.displayName).to.equal('%Z%45');
      expect(m.from.tag).to.equal('f232jadfj23');
      expect(m.via[0]!.transport).to.equal('TCP');
      expect(m.via[0]!.branch).to.equal('z9hG4bK209%fzsnel234');
      expect(m.cseq).to.deep.equal({ seq: 29344, method: 'RE%47IST%45R' });
      expect(m.contact.map((c) => String(c.uri)), 'two Contact values, not three').to.deep.equal([
        'sip:alias1@host1.example.com',
        'sip:alias3@host3.example.com',
      ]);
      expect(m.get('C%6Fntact')).to.equal('<sip:alias2@host2.example.com>');
      expect(m.contentLength).to.equal(0);
    });

    it('3.1.1.6 lwsdisp: a token display name directly followed by < is accepted', () => {
      const m = request('lwsdisp');
      expect(m.method).to.equal('OPTIONS');
      expect(m.from.displayName).to.equal('caller');
      expect(String(m.from.uri)).to.equal('sip:caller@example.com');
      expect(m.from.tag).to.equal('323');
      expect(m.cseq).to.deep.equal({ seq: 60, method: 'OPTIONS' });
    });

    it('3.1.1.7 longreq: very long display names, parameters, tags, Call-ID, branch and 34 Via values are read in full', () => {
      const m = request('longreq');
      expect(m.to.displayName).to.equal(`I have a user name of ${'extreme'.repeat(10)} proportion`);
      expect(m.to.uri.host).to.equal('example.com');
      expect(m.to.uri.port).to.equal(6000);
      expect(param(m.to.uri.params, 'unknownparam1')).to.equal(`very${'long'.repeat(20)}value`);
      expect(param(m.to.uri.params, `longparam${'name'.repeat(25)}`)).to.equal('shortvalue');
      expect(param(m.to.uri.params, `very${'long'.repeat(25)}ParameterNameWithNoValue`)).to.equal(null);

      expect(m.from.uri.user, 'compact F: From').to.equal('amazinglylongcallername'.repeat(5));
      expect(m.from.uri.host).to.equal('example.net');
      expect(m.from.tag).to.equal(`12${'982'.repeat(50)}424`);
      expect(param(m.from.params, `unknownheaderparam${'name'.repeat(20)}`)).to.equal(`unknowheaderparam${'value'.repeat(15)}`);
      expect(param(m.from.params, `unknownValueless${'paramname'.repeat(10)}`)).to.equal(null);

      expect(m.callId).to.equal(`longreq.one${'really'.repeat(20)}longcallid`);
      expect(m.cseq).to.deep.equal({ seq: 3882340, method: 'INVITE' });
      expect(lws(m.get(`Unknown-${'Long'.repeat(20)}-Name`))).to.equal(
        `unknown-${'long'.repeat(20)}-value; unknown-${'long'.repeat(20)}-parameter-name = unknown-${'long'.repeat(20)}-parameter-value`,
      );

      expect(m.via, 'Via, v, V, ViA, vIa... in every case and spacing').to.have.length(34);
      expect(m.via.slice(0, 33).map((v) => v.host)).to.deep.equal(Array.from({ length: 33 }, (_, i) => `sip${33 - i}.example.com`));
      const last = m.via[33]!;
      expect(last.host).to.equal('host.example.com');
      expect(last.received).to.equal('192.0.2.5');
      expect(last.branch).to.equal(`very${'long'.repeat(50)}branchvalue`);

      expect(m.maxForwards).to.equal(70);
      expect(m.contact).to.have.length(1);
      expect(m.contact[0]!.uri.user).to.equal('amazinglylongcallername'.repeat(5));
      expect(m.contact[0]!.uri.host).to.equal('host5.example.net');
      expect(m.contentLength, 'l: 150').to.equal(150);
      expect(m.body.length).to.equal(150);
    });

    it('3.1.1.8 dblreq: the REGISTER is handled normally and the extra octets after it in the datagram are ignored', () => {
      const bytes = load('dblreq');
      const m = request('dblreq');
      expect(m.method).to.equal('REGISTER');
      expect(m.callId).to.equal('dblreq.0ha0isndaksdj99sdfafnl3lk233412');
      expect(m.cseq).to.deep.equal({ seq: 8, method: 'REGISTER' });
      expect(m.contentLength).to.equal(0);
      expect(m.body.length, 'Content-Length: 0, the INVITE octets are noise').to.equal(0);
      expect(bytes.toString('latin1')).to.contain('INVITE sip:joe@example.com');
      expect(m.has('Content-Type')).to.equal(false);
      expect(m.via).to.have.length(1);
      expect(m.via[0]!.host).to.equal('192.0.2.125');
    });

    it('3.1.1.9 semiuri: the Request-URI parses so that the user part is "user;par=u@example.net"', () => {
      const m = request('semiuri');
      expect(m.uri.user).to.equal('user;par=u@example.net');
      expect(m.uri.host).to.equal('example.com');
      expect(Object.keys(m.uri.params), 'the ;par= belongs to the user part').to.deep.equal([]);
      expect(m.getAll('Accept').map((v) => v.trim())).to.deep.equal([
        'application/sdp',
        'application/pkcs7-mime',
        'multipart/mixed',
        'multipart/signed',
        'message/sip',
        'message/sipfrag',
      ]);
    });

    it('3.1.1.10 transports: Via values with every known transport and an unknown one are accepted', () => {
      const m = request('transports');
      expect(m.via.map((v) => v.transport)).to.deep.equal(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
      expect(m.via.map((v) => v.host)).to.deep.equal(['t1', 't2', 't3', 't4', 't5'].map((h) => `${h}.example.com`));
      expect(m.callId).to.equal('transports.kijh4akdnaqjkwendsasfdj');
    });

    it('3.1.1.11 mpart01: a multipart body with a binary part containing NULs is framed by Content-Length and accepted', () => {
      const m = request('mpart01');
      expect(m.method).to.equal('MESSAGE');
      expect(m.via[0]!.host).to.equal('127.0.0.1');
      expect(m.via[0]!.port).to.equal(5070);
      expect(m.via[0]!.branch).to.equal('z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-');
      expect(m.via[0]!.rport, ';rport without a value').to.equal(null);
      expect(m.contentType).to.equal('multipart/mixed;boundary=7a9cbec02ceef655');
      expect(m.get('Identity')).to.match(/^r5mwreLuyDRYBi\/0TiPwEsY3rEVsk.*teeivUhkMWYUA=$/);
      expect(m.contentLength).to.equal(553);
      expect(m.body.length).to.equal(553);
      expect(m.body.includes(0), 'binary part with NUL octets').to.equal(true);
      expect(m.body.subarray(0, 20).toString('latin1')).to.equal('--7a9cbec02ceef655\r\n');
      expect(m.body.subarray(-24).toString('latin1')).to.equal('\r\n--7a9cbec02ceef655--\r\n');
      const file = load('mpart01');
      expect(m.body.equals(file.subarray(file.length - 553)), 'body octets unchanged').to.equal(true);
    });

    it('3.1.1.12 unreason: a 200 response with a reason phrase of unreserved and non-ASCII UTF-8 characters is accepted', () => {
      const m = response('unreason');
      expect(m.status).to.equal(200);
      expect(octets(m.reason).toString('utf8')).to.equal('= 2**3 * 5**2 но сто девяносто девять - простое');
      expect(m.cseq).to.deep.equal({ seq: 35, method: 'INVITE' });
      expect(m.to.tag).to.equal('2229');
      expect(m.body.length).to.equal(154);
    });

    it('3.1.1.13 noreason: a response with an empty reason phrase (SP after the code) is accepted', () => {
      const m = response('noreason');
      expect(m.status).to.equal(100);
      expect(m.reason).to.equal('');
      expect(m.callId).to.equal('noreason.asndj203insdf99223ndf');
      expect(m.contentLength).to.equal(0);
    });
  });

  describe('3.1.2 Invalid Messages', () => {
    it('3.1.2.1 badinv01: extra ; and , in Via and Contact make the request invalid: 400', () => {
      rejected('badinv01', 400);
    });

    it('3.1.2.2 clerr: a Content-Length larger than the UDP message is answered 400', () => {
      const e = rejected('clerr', 400);
      expect(e.isRequest).to.equal(true);
    });

    it('3.1.2.3 ncl: a negative Content-Length is an error: 400', () => {
      rejected('ncl', 400);
    });

    it('3.1.2.4 scalar02: a CSeq sequence number above 2**32-1 is answered 400', () => {
      const e = rejected('scalar02', 400);
      expect(e.isRequest).to.equal(true);
      // what could be read is kept so the 400 can be built (RFC 3261 §8.2.6.2)
      expect(e.headers.via).to.deep.equal(['SIP/2.0/TCP host129.example.com;branch=z9hG4bK342sdfoi3']);
      expect(e.headers.callId).to.equal('scalar02.23o0pd9vanlq3wnrlnewofjas9ui32');
    });

    it('3.1.2.5 scalarlg: a response with CSeq above 2**32-1 and a 4-digit warn-code is discarded (parse throws)', () => {
      const e = rejected('scalarlg', 400);
      expect(e.isRequest).to.equal(false);
    });

    it('3.1.2.6 quotbal: an unterminated quoted display name is answered 400', () => {
      rejected('quotbal', 400);
    });

    it('3.1.2.7 ltgtruri: a Request-URI enclosed in <> is rejected with 400', () => {
      rejected('ltgtruri', 400);
    });

    it('3.1.2.8 lwsruri: LWS inside the Request-URI is answered 400', () => {
      rejected('lwsruri', 400);
    });

    it('3.1.2.9 lwsstart: multiple SP between Request-Line elements is rejected as malformed (400)', () => {
      rejected('lwsstart', 400);
    });

    it('3.1.2.10 trws: SP between SIP-Version and CRLF is rejected as malformed (400)', () => {
      rejected('trws', 400);
    });

    it('3.1.2.11 escruri: escaped headers in a SIP Request-URI are rejected with 400', () => {
      rejected('escruri', 400);
    });

    it('3.1.2.12 baddate: a non-GMT Date is not rejected by an element that does not use Date; the value is kept raw', () => {
      const m = request('baddate');
      expect(m.method).to.equal('INVITE');
      expect(m.get('Date')).to.equal('Fri, 01 Jan 2010 16:00:00 EST');
      expect(m.body.length).to.equal(150);
    });

    it('3.1.2.13 regbadct: a Contact URI with an escaped header outside <> is answered 400', () => {
      rejected('regbadct', 400);
    });

    it('3.1.2.14 badaspec: spaces within the addr-spec of To are answered 400 (and the parser does not break)', () => {
      rejected('badaspec', 400);
    });

    it('3.1.2.15 baddn: unquoted non-token characters in display names are answered 400', () => {
      rejected('baddn', 400);
    });

    it('3.1.2.16 badvers: SIP/7.0 is answered 505 Version Not Supported', () => {
      const e = rejected('badvers', 505);
      expect(e.isRequest).to.equal(true);
    });

    it('3.1.2.17 mismatch01: a CSeq method different from the Request-Line method is answered 400', () => {
      rejected('mismatch01', 400);
    });

    it('3.1.2.18 mismatch02: an unknown method with a mismatched CSeq method is rejected; at the message layer that is 400', () => {
      rejected('mismatch02', 400);
    });

    it('3.1.2.19 bigcode: a response code larger than 699 (4294967301) is dropped (parse throws)', () => {
      const e = rejected('bigcode', 400);
      expect(e.isRequest).to.equal(false);
    });
  });

  describe('3.2 Transaction Layer Semantics', () => {
    it('3.2.1 badbranch: the parser does not break on a branch that is only the z9hG4bK cookie; the transaction layer decides', () => {
      const m = request('badbranch');
      expect(m.method).to.equal('OPTIONS');
      expect(m.via).to.have.length(1);
      expect(m.via[0]!.branch).to.equal('z9hG4bK');
      expect(m.callId).to.equal('badbranch.sadonfo23i420jv0as0derf3j3n');
    });
  });

  describe('3.3 Application-Layer Semantics', () => {
    it('3.3.1 insuf: a request without Call-ID, From and To does not break the parser and is answered 400', () => {
      const e = rejected('insuf', 400);
      expect(e.isRequest).to.equal(true);
      expect(e.headers.via).to.deep.equal(['SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf']);
      expect(e.headers.cseq).to.equal('193942 INVITE');
      expect(e.headers.callId).to.equal(undefined);
    });

    it('3.3.2 unkscm: a Request-URI with an unknown scheme parses (the element answers 416)', () => {
      const m = request('unkscm');
      expect(m.method).to.equal('OPTIONS');
      expect(m.uri.scheme.toLowerCase()).to.equal('nobodyknowsthisscheme');
      expect(String(m.uri).toLowerCase()).to.equal('nobodyknowsthisscheme:totallyopaquecontent');
      expect(String(m.to.uri), 'the To header is not routing information').to.equal('sip:user@example.com');
    });

    it('3.3.3 novelsc: a Request-URI with a known but atypical scheme (soap.beep) parses', () => {
      const m = request('novelsc');
      expect(m.uri.scheme.toLowerCase()).to.equal('soap.beep');
      expect(String(m.uri)).to.equal('soap.beep://192.0.2.103:3002');
    });

    it('3.3.4 unksm2: isbn:, http: and name: URIs in To, From and Contact do not make the parser fail', () => {
      const m = request('unksm2');
      expect(m.method).to.equal('REGISTER');
      expect(m.to.uri.scheme).to.equal('isbn');
      expect(String(m.to.uri)).to.equal('isbn:2983792873');
      expect(m.from.uri.scheme).to.equal('http');
      expect(String(m.from.uri)).to.equal('http://www.example.com');
      expect(m.from.tag).to.equal('3234233');
      expect(m.contact).to.have.length(1);
      expect(String(m.contact[0]!.uri)).to.equal('name:John_Smith');
    });

    it('3.3.5 bext01: Require and Proxy-Require with unknown option-tags parse (the element answers 420 listing them)', () => {
      const m = request('bext01');
      expect(m.getAll('Require').map((v) => v.trim())).to.deep.equal(['nothingSupportsThis', 'nothingSupportsThisEither']);
      expect(m.getAll('Proxy-Require').map((v) => v.trim())).to.deep.equal(['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
      expect(m.via[0]!.transport).to.equal('TLS');
    });

    it('3.3.6 invut: a body of unknown Content-Type does not make the parser fail (an endpoint answers 415)', () => {
      const m = request('invut');
      expect(m.contentType).to.equal('application/unknownformat');
      expect(m.contentLength).to.equal(40);
      expect(m.body.toString('latin1')).to.equal('<audio>\r\n <pcmu port="443"/>\r\n</audio>\r\n');
    });

    it('3.3.7 regaut01: an Authorization header with an unknown scheme is kept unmodified', () => {
      const m = request('regaut01');
      expect(m.get('Authorization')).to.equal('NoOneKnowsThisScheme opaque-data=here');
      expect(m.contentLength, 'Content-Length:0').to.equal(0);
    });

    it('3.3.8 multi01: multiple Call-ID, To, From, Max-Forwards and CSeq values do not break the parser and are answered 400', () => {
      const e = rejected('multi01', 400);
      expect(e.isRequest).to.equal(true);
      expect(e.headers.via).to.deep.equal(['SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKkdjuw']);
    });

    it('3.3.9 mcl01: conflicting Content-Length values are a framing error: 400', () => {
      rejected('mcl01', 400);
    });

    it('3.3.10 bcast: a 200 OK whose second Via sent-by is 255.255.255.255 is well formed (endpoints and proxies drop it)', () => {
      const m = response('bcast');
      expect(m.status).to.equal(200);
      expect(m.reason).to.equal('OK');
      expect(m.via.map((v) => v.host)).to.deep.equal(['192.0.2.198', '255.255.255.255']);
      expect(m.via[1]!.branch).to.equal('z9hG4bK1saber23');
      expect(m.body.length).to.equal(154);
    });

    it('3.3.11 zeromf: Max-Forwards: 0 is a legal request (a proxy answers 483)', () => {
      const m = request('zeromf');
      expect(m.maxForwards).to.equal(0);
      expect(m.method).to.equal('OPTIONS');
    });

    it('3.3.12 cparam01: in an addr-spec Contact, unknownparam is a contact-param and not a url-param', () => {
      const m = request('cparam01');
      expect(m.contact).to.have.length(1);
      const c = m.contact[0]!;
      expect(c.uri.user).to.equal('+19725552222');
      expect(c.uri.host).to.equal('gw1.example.net');
      expect(hasParam(c.params, 'unknownparam')).to.equal(true);
      expect(param(c.params, 'unknownparam')).to.equal(null);
      expect(hasParam(c.uri.params, 'unknownparam')).to.equal(false);
    });

    it('3.3.13 cparam02: inside <>, unknownparam is a url-parameter of the Contact URI', () => {
      const m = request('cparam02');
      const c = m.contact[0]!;
      expect(hasParam(c.uri.params, 'unknownparam')).to.equal(true);
      expect(param(c.uri.params, 'unknownparam')).to.equal(null);
      expect(hasParam(c.params, 'unknownparam')).to.equal(false);
    });

    it('3.3.14 regescrt: a compact-form Contact (M:) whose URI has an escaped Route header parses and keeps the header', () => {
      const m = request('regescrt');
      expect(m.contact).to.have.length(1);
      const uri = m.contact[0]!.uri;
      expect(uri.user).to.equal('user');
      expect(uri.host).to.equal('example.com');
      const key = Object.keys(uri.headers).find((k) => k.toLowerCase() === 'route');
      expect(key, 'the URI carries a Route header').to.be.a('string');
      expect(decodeURIComponent(uri.headers[key as string]!)).to.equal('<sip:sip.example.com>');
      expect(uriEquals(uri, parseUri('sip:user@example.com?Route=%3Csip:sip.example.com%3E'))).to.equal(true);
      expect(m.contentLength, 'L:0').to.equal(0);
    });

    it('3.3.15 sdp01: an INVITE whose Accept does not offer application/sdp parses (the element answers 406 or 400)', () => {
      const m = request('sdp01');
      expect(m.get('Accept')).to.equal('text/nobodyKnowsThis');
      expect(m.contentType).to.equal('application/sdp');
      expect(m.body.length).to.equal(150);
    });
  });

  describe('3.4 Backward Compatibility', () => {
    it('3.4.1 inv2543: an RFC 2543 INVITE (no branch, no From tag, no Max-Forwards, no Content-Length) is accepted; its body is the rest of the datagram', () => {
      const file = load('inv2543');
      const m = request('inv2543');
      expect(m.method).to.equal('INVITE');
      expect(m.uri.user).to.equal('UserB');
      expect(m.via).to.have.length(1);
      expect(m.via[0]!.host).to.equal('iftgw.example.com');
      expect(m.via[0]!.branch).to.equal(undefined);
      expect(m.from.tag).to.equal(undefined);
      expect(m.from.uri.user).to.equal('+13035551111');
      expect(param(m.from.uri.params, 'user')).to.equal('phone');
      expect(m.maxForwards).to.equal(undefined);
      expect(m.has('Content-Length')).to.equal(false);
      expect(m.recordRoute).to.have.length(1);
      expect(param(m.recordRoute[0]!.uri.params, 'maddr')).to.equal('ss1.example.com');
      const bodyStart = file.indexOf('\r\n\r\n') + 4;
      expect(m.body.length).to.equal(file.length - bodyStart);
      expect(m.body.length).to.equal(105);
      expect(m.body.toString('latin1')).to.match(/^v=0\r\n[\s\S]*m=audio 49217 RTP\/AVP 0\r\n$/);
    });
  });
});
