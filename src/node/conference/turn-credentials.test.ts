import { turnIceServers, turnPassword } from './turn-credentials';

// Expected values computed outside this code: `printf '%s' USER | openssl dgst -sha1 -hmac SECRET -binary | base64`.
describe('TURN REST credentials (coturn use-auth-secret)', () => {
  it('turnPassword() is base64(HMAC-SHA1(secret, username)): RFC 2202 test case 2', () => {
    expect(turnPassword('Jefe', 'what do ya want for nothing?')).toBe('7/zfauXrL6LSdBbV8YTfnCWafHk=');
  });

  it('username is <expiry unix seconds>:<user>, expiry = now + ttl_s; credential matches openssl', () => {
    const servers = [{ urls: ['turn:127.0.0.1:3478?transport=udp'], secret: 'coturn-static-secret-0123', ttl_s: 3600 }];
    // 1_700_000_000.999 s: the fraction is dropped, not rounded up.
    expect(turnIceServers(servers, 'alice', 1_700_000_000_999)).toEqual([
      { urls: ['turn:127.0.0.1:3478?transport=udp'], username: '1700003600:alice', credential: 'Rr7pFitY+JAEZTkbiv7eFOzcpMA=' },
    ]);
  });

  it('each server gets its own expiry and credential from its own secret; the secret is not in the result', () => {
    const servers = [
      { urls: ['turn:a.example:3478', 'turns:a.example:5349'], secret: 'coturn-static-secret-0123', ttl_s: 3600 },
      { urls: ['turn:b.example:3478?transport=tcp'], secret: 'another-secret-abcdefgh', ttl_s: 60 },
    ];
    const out = turnIceServers(servers, 'p:1', 1_700_000_000_000);
    expect(out[0]?.urls).toEqual(['turn:a.example:3478', 'turns:a.example:5349']);
    expect(out[1]).toEqual({ urls: ['turn:b.example:3478?transport=tcp'], username: '1700000060:p_1', credential: 'X3qfNowi7PNW/XpasPHeY0r3Ze4=' });
    expect(JSON.stringify(out)).not.toMatch(/secret/);
  });

  it('no TURN servers configured: nothing to hand out', () => {
    expect(turnIceServers([], 'alice', 0)).toEqual([]);
  });
});
