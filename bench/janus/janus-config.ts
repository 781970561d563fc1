/**
 * The Janus configuration the mixer bench writes for each run (Janus 1.1.2 `.jcfg` syntax): the
 * core with only the HTTP transport on 127.0.0.1 and only the AudioBridge plugin, plain-RTP
 * participants bound to 127.0.0.1 in a given port range, no session timeout (the bench holds one
 * session per generator for the whole step), quiet logs. Pure: returns file names and contents.
 */

/** Janus's install folders (the Debian package's, or where a local build put them). */
export interface JanusFolders {
  plugins: string;
  transports: string;
  events: string;
  loggers: string;
}

export interface JanusConfigOptions {
  /** Folder the files are written to; passed to janus as -F, and janus.jcfg as -C. */
  configDir: string;
  folders: JanusFolders;
  httpPort: number;
  /** Plain-RTP participants' ports (one even port per participant). */
  rtp: { min: number; max: number };
  /** 0-7; 3 = warnings and errors. */
  debugLevel?: number;
}

/** Plugins and transports of the Debian package that the bench turns off (everything but two). */
export const OTHER_PLUGINS = [
  'libjanus_duktape.so',
  'libjanus_echotest.so',
  'libjanus_lua.so',
  'libjanus_nosip.so',
  'libjanus_recordplay.so',
  'libjanus_sip.so',
  'libjanus_streaming.so',
  'libjanus_textroom.so',
  'libjanus_videocall.so',
  'libjanus_videoroom.so',
  'libjanus_voicemail.so',
];
export const OTHER_TRANSPORTS = ['libjanus_websockets.so', 'libjanus_pfunix.so', 'libjanus_mqtt.so', 'libjanus_nanomsg.so', 'libjanus_rabbitmq.so'];

/** A .jcfg string literal (the bench's own paths: no quotes or backslashes expected, refused). */
function str(value: string): string {
  if (/["\\\n]/.test(value)) throw new Error(`janus config: unsupported characters in ${JSON.stringify(value)}`);
  return `"${value}"`;
}

function port(p: number, what: string): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`janus config: ${what} ${p} is not a port`);
  return p;
}

/** The three files: janus.jcfg, janus.transport.http.jcfg, janus.plugin.audiobridge.jcfg. */
export function janusConfigFiles(o: JanusConfigOptions): Record<string, string> {
  const min = port(o.rtp.min, 'rtp.min');
  const max = port(o.rtp.max, 'rtp.max');
  if (max - min < 2) throw new Error('janus config: the RTP range needs at least two ports');
  const header = '# Written by bench/janus for one bench run (loopback only).';
  const core = [
    header,
    'general: {',
    `\tconfigs_folder = ${str(o.configDir)}`,
    `\tplugins_folder = ${str(o.folders.plugins)}`,
    `\ttransports_folder = ${str(o.folders.transports)}`,
    `\tevents_folder = ${str(o.folders.events)}`,
    `\tloggers_folder = ${str(o.folders.loggers)}`,
    `\tdebug_level = ${o.debugLevel ?? 3}`,
    '\tinterface = "127.0.0.1"',
    '\tsession_timeout = 0',
    '}',
    'nat: {',
    '\tice_enforce_list = "127.0.0.1"',
    '}',
    'plugins: {',
    `\tdisable = ${str(OTHER_PLUGINS.join(','))}`,
    '}',
    'transports: {',
    `\tdisable = ${str(OTHER_TRANSPORTS.join(','))}`,
    '}',
    'loggers: {',
    '\tdisable = "libjanus_jsonlog.so"',
    '}',
    'events: {',
    '\tbroadcast = false',
    '}',
    '',
  ].join('\n');
  const http = [
    header,
    'general: {',
    '\tjson = "plain"',
    '\tbase_path = "/janus"',
    '\thttp = true',
    `\tport = ${port(o.httpPort, 'httpPort')}`,
    '\tip = "127.0.0.1"',
    '\thttps = false',
    '}',
    'admin: {',
    '\tadmin_http = false',
    '\tadmin_https = false',
    '}',
    '',
  ].join('\n');
  const audiobridge = [
    header,
    'general: {',
    '\tlocal_ip = "127.0.0.1"',
    `\trtp_port_range = "${min}-${max}"`,
    '\tevents = false',
    '}',
    '',
  ].join('\n');
  return {
    'janus.jcfg': core,
    'janus.transport.http.jcfg': http,
    'janus.plugin.audiobridge.jcfg': audiobridge,
  };
}

/** Where the Debian package (or a /usr/local or /opt build) keeps Janus's modules. */
export function janusFolderCandidates(multiarch: string): JanusFolders[] {
  const at = (base: string): JanusFolders => ({
    plugins: `${base}/plugins`,
    transports: `${base}/transports`,
    events: `${base}/events`,
    loggers: `${base}/loggers`,
  });
  return [at(`/usr/lib/${multiarch}/janus`), at('/usr/lib/janus'), at('/usr/local/lib/janus'), at('/opt/janus/lib/janus')];
}
