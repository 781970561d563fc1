import { ConfnodeError } from './errors';
import { RpcClient, RpcServer, errorCodeOf, type RpcReplyFrame, type RpcRequestFrame } from './rpc';

type Ops = {
  add: { req: { a: number; b: number }; res: number };
  fail: { req: { code: 'capacity' | 'oops' }; res: undefined };
  slow: { req: undefined; res: string };
};

/** A client wired to a server through an in-order queue (what a worker port or a socket gives). */
function pair(timeoutMs = 1000): { client: RpcClient<Ops>; held: RpcRequestFrame[]; deliver: () => void } {
  const held: RpcRequestFrame[] = [];
  const replyTo: { client?: RpcClient<Ops> } = {};
  const server = new RpcServer<Ops>(
    {
      add: ({ a, b }) => a + b,
      fail: ({ code }) => {
        if (code === 'capacity') throw new ConfnodeError('capacity', 'node full');
        throw new Error('boom');
      },
      slow: () => new Promise<string>(() => undefined),
    },
    (reply: RpcReplyFrame) => replyTo.client?.handleReply(reply),
  );
  const client = new RpcClient<Ops>((f) => held.push(f), { peer: 'test peer', timeoutMs });
  replyTo.client = client;
  return { client, held, deliver: () => held.splice(0).forEach((f) => server.handle(f)) };
}

describe('RpcClient / RpcServer: one typed map of operations at both ends', () => {
  it('a call resolves with the handler value', async () => {
    const { client, deliver } = pair();
    const p = client.call('add', { a: 2, b: 3 });
    deliver();
    await expect(p).resolves.toBe(5);
    expect(client.pendingCount).toBe(0);
  });

  it("a ConfnodeError keeps its code across the transport; anything else is 'internal'", async () => {
    const { client, deliver } = pair();
    const a = client.call('fail', { code: 'capacity' });
    const b = client.call('fail', { code: 'oops' });
    deliver();
    await expect(a).rejects.toMatchObject({ code: 'capacity', message: 'node full' });
    await expect(b).rejects.toMatchObject({ code: 'internal', message: 'boom' });
  });

  it('an unknown operation is refused as bad-request, never thrown into the server', async () => {
    const replies: RpcReplyFrame[] = [];
    const server = new RpcServer<Ops>({ add: () => 0, fail: () => undefined, slow: () => '' }, (r) => replies.push(r));
    server.handle({ kind: 'req', id: 7, op: 'toString', data: undefined });
    await Promise.resolve();
    expect(replies).toEqual([{ kind: 'res', id: 7, ok: false, code: 'bad-request', message: "unknown operation 'toString'" }]);
  });

  it('every call has a timeout, and a late reply is ignored', async () => {
    jest.useFakeTimers();
    try {
      const { client, deliver } = pair(50);
      const p = client.call('add', { a: 1, b: 1 });
      const caught = p.catch((e: unknown) => e);
      jest.advanceTimersByTime(51);
      expect(await caught).toMatchObject({ code: 'timeout' });
      deliver(); // the reply arrives after the timeout: nothing happens
      expect(client.pendingCount).toBe(0);
    } finally {
      jest.useRealTimers();
    }
  });

  it("failAll rejects only this peer's pending calls; permanent refuses later ones", async () => {
    const one = pair();
    const two = pair();
    const a = one.client.call('slow', undefined);
    const b = two.client.call('add', { a: 1, b: 2 });
    one.client.failAll(new ConfnodeError('internal', 'worker exited'), true);
    await expect(a).rejects.toMatchObject({ message: 'worker exited' });
    two.deliver();
    await expect(b).resolves.toBe(3);
    await expect(one.client.call('add', { a: 0, b: 0 })).rejects.toMatchObject({ message: 'worker exited' });
  });

  it('a transport that throws on send fails the call as unavailable', async () => {
    const client = new RpcClient<Ops>(() => {
      throw new Error('socket closed');
    }, { peer: 'node B', timeoutMs: 1000 });
    await expect(client.call('add', { a: 1, b: 1 })).rejects.toMatchObject({ code: 'unavailable' });
    expect(client.pendingCount).toBe(0);
  });

  it('error codes from the wire are checked', () => {
    expect(errorCodeOf('capacity')).toBe('capacity');
    expect(errorCodeOf('rm -rf')).toBe('internal');
    expect(errorCodeOf(3)).toBe('internal');
  });
});
