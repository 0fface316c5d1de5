/** Two UserAgents over real UDP on loopback with the real clock: a whole call. */
import { expect } from 'chai';
import { UserAgent } from '../../lib/ua/user-agent.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

describe('UserAgent over UDP loopback', () => {
  it('INVITE with SDP, 180, 200 with SDP, ACK, BYE; then both close cleanly', async () => {
    const timers = { T1: 50, T2: 400, T4: 500 };
    const uas = await UserAgent.listen({ address: '127.0.0.1', port: 0 }, { timers, user: 'uas' });
    const uac = await UserAgent.listen({ address: '127.0.0.1', port: 0 }, { timers, user: 'uac' });
    const acked = new Promise<void>((resolve) => {
      uas.onRequest((r) => {
        if (r.method === 'INVITE') {
          r.onack = () => resolve();
          r.respond(180);
          setTimeout(() => r.respond(200, 'OK', { body: SDP }), 20);
        } else r.respond(200);
      });
    });
    const port = uas.transport.localPort;
    const invite = uac.createRequest({ method: 'INVITE', uri: `sip:uas@127.0.0.1:${port}`, from: 'sip:uac@example.com', to: 'sip:uas@example.com', body: SDP });
    const ringing: number[] = [];
    const { response, dialog } = await uac.invite(invite, { onProvisional: (r) => ringing.push(r.status) });
    expect(ringing).to.include(180);
    expect(response.status).to.equal(200);
    expect(response.body.toString()).to.equal(SDP);
    await acked;
    const bye = await dialog!.bye();
    expect(bye.status).to.equal(200);
    expect(uac.dialogCount).to.equal(0);
    expect(uas.dialogCount).to.equal(0);
    await uac.close();
    await uas.close();
  });
});
