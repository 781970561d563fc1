/**
 * A browser's SDP is untrusted (any web client can send anything): random mutations of a real
 * Chromium offer (Debian Chromium 156, fake devices; test/fixtures/sdp) go to a LocalMediaService.
 * Each must be answered or refused with a ConfnodeError (the page then hears bad-message), and
 * nothing may escape as an uncaught exception or an unhandled rejection: in a media worker that
 * would end every conference of the thread. The fixture has no candidates and mutated offers are
 * stripped of any, so werift never sends a connectivity check anywhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfnodeError, asConferenceId, asParticipantId, mutateLines, seededRandom, silentLogger, systemClock } from '../../common';
import { LocalMediaService } from '../local-service';

jest.setTimeout(120_000);

const OFFER = readFileSync(join(__dirname, '../../../test/fixtures/sdp/chromium-offer.sdp'), 'utf8').replace(/\r?\n/g, '\r\n');
const TOKENS = ['', ' ', '0', '-1', '65536', '99999999999999999999', 'IN', 'IP7', 'UDP/TLS/RTP/SAVPF', '::', '0.0.0.0', '=', ':', '/', '*', 'a=', 'm=', '\t', 'é', '\u0000', 'sha-256', 'actpass', 'active', 'passive', '1', '96'];
const MUTATIONS = 150;

/** A mutated offer, without any candidate line. */
function mutate(text: string, rnd: () => number): string {
  return mutateLines(text, rnd, { tokens: TOKENS })
    .split(/\r?\n/)
    .filter((l) => !/candidate/i.test(l))
    .join('\r\n');
}

it(`${MUTATIONS} mutated Chromium offers: each answered or refused with a ConfnodeError, nothing uncaught`, async () => {
  const escaped: string[] = [];
  const onEscape = (e: unknown): void => void escaped.push(String(e));
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  const service = new LocalMediaService({
    address: '127.0.0.1',
    rtpPorts: { min: 44700, max: 44799 },
    clock: systemClock,
    logger: silentLogger,
    mixTalkers: 3,
    jitterBufferMs: 40,
    opusComplexity: 3,
    webrtcConnectTimeoutMs: 500,
  });
  const conference = { id: asConferenceId('c-fuzz'), name: 'fuzz' };
  const rnd = seededRandom(8829);
  const outcomes = new Map<string, number>();
  const wrong: string[] = [];
  try {
    for (let i = 0; i < MUTATIONS; i++) {
      const id = asParticipantId(`p${i}`);
      const sdp = mutate(OFFER, rnd);
      await service.createWebRtcParticipant(conference, id, 'VP8');
      let outcome: string;
      try {
        await service.webrtcOffer(id, sdp);
        outcome = 'answered';
      } catch (err) {
        outcome = err instanceof ConfnodeError ? err.code : 'other';
        if (!(err instanceof ConfnodeError)) wrong.push(`${String(err)} for: ${sdp.split('\r\n').filter((l) => !OFFER.includes(l)).join(' | ')}`);
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      service.removeParticipant(id);
    }
    await new Promise((r) => setTimeout(r, 1000)); // late failures of the last ones surface here
  } finally {
    await service.close();
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  }
  expect({ wrong, escaped }).toEqual({ wrong: [], escaped: [] });
  // Both outcomes occur, so the check means something.
  expect([...outcomes.keys()].sort()).toEqual(['answered', 'bad-request']);
});
