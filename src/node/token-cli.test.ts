import { verifyJoinToken } from './conference/join-token';
import { defaultConfigInput, parseConfig } from './config';
import { invitationUrl, mintInvitation, parseTokenCli } from './token-cli';

const SECRET = 'join-token-secret-0123456789abcdef';
const NOW = 1_700_000_000_000;

describe('scripts/token: parseTokenCli()', () => {
  it('reads every option (also --flag=value); role defaults to guest, ttl to a day', () => {
    expect(parseTokenCli(['--config', 'c.yaml', '--room', 'meet', '--name', 'Ann Lee'])).toEqual({
      configPath: 'c.yaml',
      room: 'meet',
      name: 'Ann Lee',
      role: 'guest',
      ttlS: 86_400,
    });
    expect(parseTokenCli(['--config=c.yaml', '--room=meet', '--name=Ann', '--role=host', '--ttl=600', '--node=n2', '--base-url=https://meet.example.com'])).toMatchObject({
      role: 'host',
      ttlS: 600,
      nodeName: 'n2',
      baseUrl: 'https://meet.example.com',
    });
    expect(parseTokenCli(['--help'])).toBe('help');
  });

  it.each([
    [['--room', 'meet', '--name', 'A'], /--config is required/],
    [['--config', 'c', '--room', 'meet', '--name', 'A', '--role', 'admin'], /--role must be host or guest/],
    [['--config', 'c', '--room', 'meet', '--name', 'A', '--ttl', '5'], /--ttl must be 60\.\./],
    [['--config', 'c', '--room', 'meet', '--name'], /--name needs a value/],
    [['--config', 'c', '--bogus'], /unknown argument '--bogus'/],
    [['--config', 'c', '--room', 'meet', '--name', 'A', '--base-url', 'ftp://x'], /--base-url/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseTokenCli(argv)).toThrow(message);
  });
});

describe('scripts/token: mintInvitation()', () => {
  const input = defaultConfigInput();
  const config = parseConfig({ ...input, join_tokens: { secret: SECRET }, vmrs: [{ name: 'board', aliases: ['board', 'board@example.com'], require_token: true }] });

  it('mints a token the node accepts for that room, and a link to the first node with the first alias', async () => {
    const out = await mintInvitation(config, { configPath: '-', room: 'Board', name: 'Grace', role: 'host', ttlS: 600 }, NOW);
    expect(out.expires).toBe(new Date(NOW + 600_000).toISOString());
    const node = config.nodes[0];
    expect(out.url).toBe(`http://${node?.address}:${node?.http_port}/?alias=board&token=${out.token}`);
    expect(await verifyJoinToken(out.token, SECRET, NOW)).toEqual({ kind: 'valid', claims: { room: 'board', name: 'Grace', role: 'host', exp: NOW / 1000 + 600 } });
  });

  it('refuses a config without join_tokens and an unknown room', async () => {
    const plain = parseConfig(input);
    await expect(mintInvitation(plain, { configPath: '-', room: 'meet', name: 'A', role: 'guest', ttlS: 600 }, NOW)).rejects.toThrow(/no join_tokens section/);
    await expect(mintInvitation(config, { configPath: '-', room: 'nope', name: 'A', role: 'guest', ttlS: 600 }, NOW)).rejects.toThrow(/no VMR named 'nope' \(known: board\)/);
  });

  it('invitationUrl(): https with a certificate, the public address, IPv6 in brackets, or the --base-url', () => {
    const node = config.nodes[0];
    if (!node) throw new Error('no node');
    expect(invitationUrl({ ...node, tls: { cert_file: 'c', key_file: 'k' }, public_address: '203.0.113.5' }, 'meet@x', 'T')).toBe(
      `https://203.0.113.5:${node.http_port}/?alias=meet%40x&token=T`,
    );
    expect(invitationUrl({ ...node, address: '::1' }, 'meet', 'T')).toBe(`http://[::1]:${node.http_port}/?alias=meet&token=T`);
    expect(invitationUrl(node, 'meet', 'T', 'https://meet.example.com/')).toBe('https://meet.example.com/?alias=meet&token=T');
  });
});
