import { deriveLinkKeys, type LinkKeyInput } from './keys';

const nonceA = Buffer.alloc(16, 0xa1);
const nonceB = Buffer.alloc(16, 0xb2);
const side = (local: 'n1' | 'n2', over: Partial<LinkKeyInput> = {}): LinkKeyInput => ({
  secret: 'cluster-secret',
  conference: 'conf-1',
  localNode: local,
  peerNode: local === 'n1' ? 'n2' : 'n1',
  localNonce: local === 'n1' ? nonceA : nonceB,
  peerNonce: local === 'n1' ? nonceB : nonceA,
  ...over,
});
const hex = (k: { key: Uint8Array; salt: Uint8Array }): string => Buffer.concat([k.key, k.salt]).toString('hex');

describe('deriveLinkKeys (HKDF-SHA256 over the cluster secret, both nonces, conference and direction)', () => {
  it('both sides derive the same key per direction: what one sends with, the other receives with', () => {
    const a = deriveLinkKeys(side('n1'));
    const b = deriveLinkKeys(side('n2'));
    expect(a.send.key).toHaveLength(16);
    expect(a.send.salt).toHaveLength(14);
    expect(hex(a.send)).toBe(hex(b.receive));
    expect(hex(a.receive)).toBe(hex(b.send));
  });

  it('the two directions never share a key, and the same inputs always give the same keys (pure)', () => {
    const a = deriveLinkKeys(side('n1'));
    expect(hex(a.send)).not.toBe(hex(a.receive));
    expect(hex(deriveLinkKeys(side('n1')).send)).toBe(hex(a.send));
  });

  it('another secret, conference instance or nonce gives other keys', () => {
    const base = hex(deriveLinkKeys(side('n1')).send);
    expect(hex(deriveLinkKeys(side('n1', { secret: 'other' })).send)).not.toBe(base);
    expect(hex(deriveLinkKeys(side('n1', { conference: 'conf-2' })).send)).not.toBe(base);
    expect(hex(deriveLinkKeys(side('n1', { peerNonce: Buffer.alloc(16, 0xb3) })).send)).not.toBe(base);
  });

  it('refuses a missing secret, a link to itself and nonces of the wrong size', () => {
    expect(() => deriveLinkKeys(side('n1', { secret: '' }))).toThrow(expect.objectContaining({ code: 'config' }));
    expect(() => deriveLinkKeys(side('n1', { peerNode: 'n1' }))).toThrow(expect.objectContaining({ code: 'bad-request' }));
    expect(() => deriveLinkKeys(side('n1', { localNonce: Buffer.alloc(8) }))).toThrow(expect.objectContaining({ code: 'bad-request' }));
  });
});
