import { randomBytes } from 'node:crypto';
import type { RtpParticipantUpdate } from '../../media';
import { CLUSTER_PROTOCOL } from './protocol';
import { SrtpKeySeal } from './srtp-seal';

const SECRET = 'cluster-secret-0123456789';
const key = (): string => randomBytes(30).toString('base64');

function update(): RtpParticipantUpdate {
  return {
    remote: { address: '127.0.0.1', rtpPort: 4000, rtcpMux: false, payloadTypes: [0], srtp: { suite: 'AES_CM_128_HMAC_SHA1_80', localKey: key(), remoteKey: key() } },
    direction: 'sendrecv',
    format: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 },
    video: {
      remote: { address: '127.0.0.1', rtpPort: 4002, rtcpMux: false, payloadTypes: [96], srtp: { suite: 'AES_CM_128_HMAC_SHA1_32', localKey: key(), remoteKey: key() } },
      direction: 'sendrecv',
      payloadType: 96,
    },
  };
}

describe('SDES keys over the control channel (sealed: the channel authenticates but does not encrypt)', () => {
  it('every key is sealed (no key in the frame), and the media node opens exactly the keys the signaling node had', () => {
    const u = update();
    const sealed = new SrtpKeySeal(SECRET).sealUpdate('p1', u);
    const wire = JSON.stringify(sealed);
    for (const k of [u.remote.srtp?.localKey, u.remote.srtp?.remoteKey, u.video?.remote.srtp?.localKey, u.video?.remote.srtp?.remoteKey]) {
      expect(wire).not.toContain(k);
    }
    expect(sealed.remote.srtp?.suite).toBe('AES_CM_128_HMAC_SHA1_80');
    expect(new SrtpKeySeal(SECRET).openUpdate('p1', sealed)).toEqual(u);
  });

  it('the cluster protocol accepts the sealed update and refuses keys in clear', () => {
    const u = update();
    const schema = CLUSTER_PROTOCOL.requests.updateRtp;
    expect(schema.safeParse({ participant: 'p1', update: new SrtpKeySeal(SECRET).sealUpdate('p1', u) }).success).toBe(true);
    const clear = schema.safeParse({ participant: 'p1', update: u });
    expect(clear.success).toBe(false);
    expect(JSON.stringify(clear.error?.issues)).not.toContain(u.remote.srtp?.localKey);
  });

  it('a seal opens only with the same cluster secret, for the same participant and the same key slot', () => {
    const u = update();
    const sealed = new SrtpKeySeal(SECRET).sealUpdate('p1', u);
    expect(() => new SrtpKeySeal('another-secret-0123456789').openUpdate('p1', sealed)).toThrow(/does not open/);
    expect(() => new SrtpKeySeal(SECRET).openUpdate('p2', sealed)).toThrow(/does not open/);
    const srtp = sealed.remote.srtp;
    if (!srtp) throw new Error('no keys');
    const swapped = { ...sealed, remote: { ...sealed.remote, srtp: { ...srtp, localKey: srtp.remoteKey, remoteKey: srtp.localKey } } };
    expect(() => new SrtpKeySeal(SECRET).openUpdate('p1', swapped)).toThrow(/does not open/);
    expect(() => new SrtpKeySeal(SECRET).openUpdate('p1', { ...sealed, remote: { ...sealed.remote, srtp: { ...srtp, localKey: 'x' } } })).toThrow(/malformed/);
  });

  it('plain RTP passes through untouched', () => {
    const u: RtpParticipantUpdate = { remote: { address: '127.0.0.1', rtpPort: 4000, rtcpMux: true, payloadTypes: [0] }, direction: 'sendrecv', format: { name: 'PCMU', payloadType: 0, clockRate: 8000, channels: 1 } };
    expect(new SrtpKeySeal(SECRET).openUpdate('p', new SrtpKeySeal(SECRET).sealUpdate('p', u))).toEqual(u);
  });
});
