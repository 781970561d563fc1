import { createRoomBody, isAck, joinRtpBody, longPollEvents, parseCreated, parseIdReply, parseJoinedRtp, parsePluginData } from './janus-api';
import { janusConfigFiles, janusFolderCandidates } from './janus-config';

// Replies captured from Janus 1.1.2 (Debian bookworm) over its HTTP API on loopback.
const CREATED_SESSION = { janus: 'success', transaction: 't1', data: { id: 8815333858337213 } };
const ATTACHED = { janus: 'success', session_id: 8815333858337213, transaction: 't2', data: { id: 1403514223176208 } };
const ROOM_EXISTS = {
  janus: 'success',
  session_id: 8815333858337213,
  transaction: 't3',
  sender: 1403514223176208,
  plugindata: { plugin: 'janus.plugin.audiobridge', data: { audiobridge: 'event', error_code: 486, error: 'Room 1 already exists' } },
};
const ROOM_CREATED = {
  janus: 'success',
  session_id: 8815333858337213,
  transaction: 't3b',
  sender: 1403514223176208,
  plugindata: { plugin: 'janus.plugin.audiobridge', data: { audiobridge: 'created', room: 7, permanent: false } },
};
const JOIN_ACK = { janus: 'ack', session_id: 8815333858337213, transaction: 't4' };
const JOINED_POLL = [
  {
    janus: 'event',
    session_id: 8815333858337213,
    transaction: 't4',
    sender: 1403514223176208,
    plugindata: {
      plugin: 'janus.plugin.audiobridge',
      data: { audiobridge: 'joined', room: 1, id: 7506075341688558, participants: [], rtp: { ip: '127.0.0.1', port: 42000, payload_type: 111 } },
    },
  },
];
const NO_SUCH_ROOM_POLL = [
  {
    janus: 'event',
    session_id: 8815333858337213,
    transaction: 't6',
    sender: 5183182660607993,
    plugindata: { plugin: 'janus.plugin.audiobridge', data: { audiobridge: 'event', error_code: 485, error: 'No such room (99)' } },
  },
];
const NO_SUCH_SESSION = { janus: 'error', session_id: 12345, transaction: 't7', error: { code: 458, reason: 'No such session 12345' } };

describe('Janus AudioBridge API replies (captured from Janus 1.1.2)', () => {
  test('parseIdReply() takes the session and handle ids, and reports a core error with its code', () => {
    expect(parseIdReply(CREATED_SESSION)).toEqual({ ok: true, value: 8815333858337213 });
    expect(parseIdReply(ATTACHED)).toEqual({ ok: true, value: 1403514223176208 });
    expect(parseIdReply(NO_SUCH_SESSION)).toEqual({ ok: false, reason: 'janus error 458: No such session 12345' });
    expect(parseIdReply({ janus: 'success' }).ok).toBe(false);
    expect(parseIdReply('garbage').ok).toBe(false);
  });

  test('parseCreated() accepts a created room, and an existing one (486) as already there', () => {
    expect(parseCreated(ROOM_CREATED)).toEqual({ ok: true, value: 7 });
    expect(parseCreated(ROOM_EXISTS)).toEqual({ ok: true, value: -1 });
    expect(parseCreated(NO_SUCH_SESSION).ok).toBe(false);
  });

  test('a join is acknowledged first; its joined event comes on the long poll with the same transaction', () => {
    expect(isAck(JOIN_ACK)).toBe(true);
    expect(isAck(ROOM_CREATED)).toBe(false);
    const events = longPollEvents(JOINED_POLL);
    expect(events.map((e) => e.transaction)).toEqual(['t4']);
    expect(parseJoinedRtp(events[0]?.message)).toEqual({
      ok: true,
      value: { room: 1, participantId: 7506075341688558, media: { address: '127.0.0.1', port: 42000 }, payloadType: 111 },
    });
  });

  test('a failed join is an error with the plugin code, never a participant', () => {
    const [e] = longPollEvents(NO_SUCH_ROOM_POLL);
    expect(parseJoinedRtp(e?.message)).toEqual({ ok: false, reason: 'audiobridge error 485: No such room (99)' });
  });

  test('long-poll keepalives (array or single object) carry no events', () => {
    expect(longPollEvents([{ janus: 'keepalive' }])).toEqual([]);
    expect(longPollEvents({ janus: 'keepalive' })).toEqual([]);
    expect(longPollEvents(null)).toEqual([]);
  });

  test('a joined event without plain-RTP details, or from another plugin, is refused', () => {
    const webrtc = { janus: 'event', plugindata: { plugin: 'janus.plugin.audiobridge', data: { audiobridge: 'joined', room: 1, id: 5, participants: [] } } };
    expect(parseJoinedRtp(webrtc).ok).toBe(false);
    const other = { janus: 'event', plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'joined' } } };
    expect(parsePluginData(other)).toEqual({ ok: false, reason: 'reply from janus.plugin.videoroom' });
  });
});

describe('Janus AudioBridge request bodies', () => {
  test('createRoomBody(): 16 kHz room open to plain-RTP participants', () => {
    expect(createRoomBody(3, { samplingRate: 16000 })).toMatchObject({ request: 'create', room: 3, sampling_rate: 16000, allow_rtp_participants: true, record: false });
  });

  test('joinRtpBody(): Opus states complexity, bitrate and payload type; PCMU needs none of them', () => {
    const settings = { opusComplexity: 3, opusBitrate: 32000 };
    expect(joinRtpBody({ room: 2, display: 'room2-0', codec: 'opus', payloadType: 111, rtp: { ip: '127.0.0.1', port: 40000 }, settings })).toEqual({
      request: 'join',
      room: 2,
      display: 'room2-0',
      muted: false,
      codec: 'opus',
      quality: 3,
      bitrate: 32000,
      rtp: { ip: '127.0.0.1', port: 40000, payload_type: 111 },
    });
    expect(joinRtpBody({ room: 2, display: 'x', codec: 'pcmu', payloadType: 0, rtp: { ip: '127.0.0.1', port: 40000 }, settings })).toEqual({
      request: 'join',
      room: 2,
      display: 'x',
      muted: false,
      codec: 'pcmu',
      rtp: { ip: '127.0.0.1', port: 40000 },
    });
  });
});

describe('janusConfigFiles()', () => {
  const folders = janusFolderCandidates('x86_64-linux-gnu')[0];
  if (!folders) throw new Error('no candidate');
  const files = janusConfigFiles({ configDir: '/tmp/bench-x', folders, httpPort: 18088, rtp: { min: 42000, max: 42999 } });

  test('only the HTTP transport, on 127.0.0.1, and only the AudioBridge plugin', () => {
    expect(Object.keys(files).sort()).toEqual(['janus.jcfg', 'janus.plugin.audiobridge.jcfg', 'janus.transport.http.jcfg']);
    const core = files['janus.jcfg'] ?? '';
    expect(core).toContain('configs_folder = "/tmp/bench-x"');
    expect(core).toContain('plugins_folder = "/usr/lib/x86_64-linux-gnu/janus/plugins"');
    expect(core).toContain('session_timeout = 0');
    expect(core).toMatch(/disable = "[^"]*libjanus_videoroom\.so[^"]*"/);
    expect(core).not.toMatch(/disable = "[^"]*libjanus_audiobridge/);
    expect(core).toMatch(/transports: \{\n\tdisable = "[^"]*libjanus_websockets\.so/);
    expect(core).not.toMatch(/disable = "[^"]*libjanus_http\.so/);
    const http = files['janus.transport.http.jcfg'] ?? '';
    expect(http).toContain('port = 18088');
    expect(http).toContain('ip = "127.0.0.1"');
    expect(http).toContain('admin_http = false');
  });

  test('plain-RTP participants bind 127.0.0.1 in the given range', () => {
    const ab = files['janus.plugin.audiobridge.jcfg'] ?? '';
    expect(ab).toContain('local_ip = "127.0.0.1"');
    expect(ab).toContain('rtp_port_range = "42000-42999"');
  });

  test('refuses ports that are not ports and paths that would break the syntax', () => {
    expect(() => janusConfigFiles({ configDir: '/tmp/x', folders, httpPort: 70000, rtp: { min: 42000, max: 42999 } })).toThrow(/httpPort/);
    expect(() => janusConfigFiles({ configDir: '/tmp/"x', folders, httpPort: 18088, rtp: { min: 42000, max: 42999 } })).toThrow(/unsupported/);
    expect(() => janusConfigFiles({ configDir: '/tmp/x', folders, httpPort: 18088, rtp: { min: 42000, max: 42001 } })).toThrow(/two ports/);
  });
});
