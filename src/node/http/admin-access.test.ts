import { adminAccess, isAdminPath, isDirectLoopback } from './admin-access';

const TOKEN = 'tok-0123456789abcdef';

describe('admin access: the API and /metrics for loopback, or with the admin token', () => {
  it('protects the API and /metrics but not /api/v1/status (the join page reads it), pages or /healthz', () => {
    expect(['/metrics', '/api/v1/participants', '/api/v1/conferences/meet', '/api/v1/log', '/api/other'].every(isAdminPath)).toBe(true);
    expect(['/api/v1/status', '/', '/admin', '/healthz', '/app.js', '/ws'].some(isAdminPath)).toBe(false);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['10.0.0.5', false],
    ['::ffff:192.168.1.9', false],
    ['fe80::1', false],
    [undefined, false],
  ])('a direct client from %s is loopback: %s', (remoteAddress, loopback) => {
    expect(isDirectLoopback({ remoteAddress, headers: {} })).toBe(loopback);
  });

  it.each(['forwarded', 'x-forwarded-for', 'x-real-ip'])('a loopback request with %s came through a proxy: not trusted as local', (h) => {
    expect(isDirectLoopback({ remoteAddress: '127.0.0.1', headers: { [h]: '203.0.113.7' } })).toBe(false);
  });

  it('remote without a configured token: 403 naming the config key', () => {
    const d = adminAccess({ remoteAddress: '10.0.0.5', headers: { authorization: `Bearer ${TOKEN}` } }, undefined);
    expect(d).toEqual({ ok: false, status: 403, error: expect.stringContaining('cluster.admin_token') });
  });

  it('remote with the token: allowed; missing or wrong token: 401', () => {
    const remote = (authorization?: string) => ({ remoteAddress: '10.0.0.5', headers: authorization === undefined ? {} : { authorization } });
    expect(adminAccess(remote(`Bearer ${TOKEN}`), TOKEN)).toEqual({ ok: true });
    expect(adminAccess(remote(`bearer  ${TOKEN} `), TOKEN)).toEqual({ ok: true });
    expect(adminAccess(remote(), TOKEN)).toMatchObject({ ok: false, status: 401, error: expect.stringMatching(/required/) });
    expect(adminAccess(remote(`Bearer ${TOKEN}x`), TOKEN)).toMatchObject({ ok: false, status: 401, error: 'wrong admin token' });
    expect(adminAccess(remote(`Basic ${TOKEN}`), TOKEN)).toMatchObject({ ok: false, status: 401 });
    expect(adminAccess(remote('Bearer short'), TOKEN)).toMatchObject({ ok: false, status: 401 });
  });

  it('direct loopback needs no token, configured or not', () => {
    expect(adminAccess({ remoteAddress: '127.0.0.1', headers: {} }, TOKEN)).toEqual({ ok: true });
    expect(adminAccess({ remoteAddress: '127.0.0.1', headers: {} }, undefined)).toEqual({ ok: true });
  });
});
