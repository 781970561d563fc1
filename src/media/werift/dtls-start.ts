/**
 * werift's DTLS client waits 100 ms after ICE connects before it sends its ClientHello (a fixed
 * sleep in RTCDtlsTransport.start). Where the node is the DTLS client, which is every browser
 * that offers (a=setup:actpass, our answer active), that sleep was a third of a join's time from
 * ICE connected to media. Here the handshake starts at once instead: the moment the transport
 * says 'connecting' its DtlsClient exists (werift creates it in the same synchronous step), so
 * one microtask later we start it, and werift's own call after the sleep gets the same handshake
 * (connect() is made idempotent: a second Flight1 would restart it). A ClientHello that arrives
 * before the browser's DTLS is ready is kept by WebRTC (a cached ClientHello), and a lost one is
 * retransmitted by werift's flight timer.
 */
import type { RTCDtlsTransport } from 'werift';

interface ClientLike {
  connect(): Promise<void>;
}

interface DtlsTransportInternals {
  role?: string;
  dtls?: ClientLike & { constructor: { name: string } };
}

const started = new WeakSet<RTCDtlsTransport>();

/** On every transport of the list not seen before: the ClientHello goes as soon as DTLS starts. */
export function startDtlsAtOnce(transports: readonly RTCDtlsTransport[]): void {
  for (const t of transports) {
    if (started.has(t)) continue;
    started.add(t);
    t.onStateChange.subscribe((state) => {
      if (state !== 'connecting') return;
      queueMicrotask(() => kick(t as unknown as DtlsTransportInternals));
    });
  }
}

function kick(t: DtlsTransportInternals): void {
  const client = t.dtls;
  if (t.role !== 'client' || !client || typeof client.connect !== 'function') return;
  const connect = client.connect.bind(client);
  let once: Promise<void> | undefined;
  client.connect = () => (once ??= connect());
  // werift's own call (after its sleep) gets this promise and reports its failure itself.
  client.connect().catch(() => undefined);
}
