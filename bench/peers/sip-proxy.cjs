// The npm `sip` package's proxy example (node_modules/sip/examples/registrar-proxy.js), as a bench
// peer. Changes from the example, and only these: the listen address/port come from argv, the
// `sys` logger (gone from Node) is dropped, TCP is off, and a request for a user nobody
// registered is forwarded to its Request-URI as it is (the example answers 404; the bench's
// INVITEs name the callee in the Request-URI, as they do for natter and Kamailio), and the 100
// Trying goes to INVITEs only (the example also "answers" ACK and BYE with one). It keeps
// the example's design: `sip/proxy` contexts (stateless-ish: no Record-Route, no NAT handling,
// no media relay), a registrar in a plain object.
//
//   node bench/peers/sip-proxy.cjs 127.0.0.1 5060
'use strict';
const sip = require('sip');
const proxy = require('sip/proxy');

const address = process.argv[2] || '127.0.0.1';
const port = Number(process.argv[3] || 5060);
const contacts = {};

proxy.start({ address, port, tcp: false, logger: { error() {} } }, function (rq) {
  if (rq.method === 'REGISTER') {
    const user = sip.parseUri(rq.headers.to.uri).user;
    contacts[user] = rq.headers.contact;
    const rs = sip.makeResponse(rq, 200, 'Ok');
    rs.headers.to.tag = Math.floor(Math.random() * 1e6);
    proxy.send(rs);
  } else {
    const user = sip.parseUri(rq.uri).user;
    if (contacts[user] && Array.isArray(contacts[user]) && contacts[user].length > 0) {
      rq.uri = contacts[user][0].uri;
    }
    if (rq.method === 'INVITE') proxy.send(sip.makeResponse(rq, 100, 'Trying'));
    proxy.send(rq);
  }
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
