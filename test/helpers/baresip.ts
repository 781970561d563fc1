/**
 * baresip 1.0 as a real SIP peer that decodes what it receives: writes a headless config dir
 * (audio, or Opus + H.264 with a fakevideo camera; adapted from the project's peers templates)
 * and finds its sndfile recordings
 * (`*-dec.wav` = what it decoded). Must only be run inside a private namespace (netns.ts):
 * baresip binds RTP on 0.0.0.0.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type BaresipSource = { kind: 'ausine'; freq: number } | { kind: 'aufile'; wav: string };

export interface BaresipOptions {
  dir: string;
  user: string;
  sipPort: number;
  rtp: { min: number; max: number };
  codec: 'opus' | 'pcmu' | 'pcma';
  source: BaresipSource;
  /** H.264 video too (avcodec, a fakevideo camera at 352x288, 15 fps). */
  video?: boolean;
}

const VIDEO_CONFIG = [
  'video_source\t\tfakevideo,nil',
  'video_display\t\tfakevideo,nil',
  'video_size\t\t352x288',
  'video_bitrate\t\t500000',
  'video_fps\t\t15.00',
];
const VIDEO_MODULES = ['module\t\t\tfakevideo.so', 'module\t\t\tavcodec.so', 'module\t\t\trtcpsummary.so'];

const CODEC_PARAM: Readonly<Record<BaresipOptions['codec'], string>> = {
  opus: 'opus/48000/2',
  pcmu: 'PCMU/8000/1',
  pcma: 'PCMA/8000/1',
};

/** Writes `config` and `accounts` into `o.dir` (created) and returns the dir. */
export function writeBaresipConfig(o: BaresipOptions): string {
  mkdirSync(join(o.dir, 'rec'), { recursive: true });
  // ausine only runs at 48 kHz, so it pairs with Opus; PCMU/PCMA peers play a WAV with aufile.
  const source = o.source.kind === 'ausine' ? `ausine,${o.source.freq}` : `aufile,${o.source.wav}`;
  const sourceModule = o.source.kind === 'ausine' ? 'ausine.so' : 'aufile.so';
  const config = [
    `# baresip 1.0.0 headless ${o.video ? 'audio + H.264' : 'audio-only'} config written by test/helpers/baresip.ts (loopback only)`,
    'poll_method\t\tepoll',
    `sip_listen\t\t127.0.0.1:${o.sipPort}`,
    'net_interface\t\t127.0.0.1',
    'call_local_timeout\t120',
    'call_max_calls\t\t4',
    `audio_source\t\t${source}`,
    'audio_player\t\taubridge,spk',
    'audio_alert\t\taubridge,spk',
    'ausrc_format\t\ts16',
    'auplay_format\t\ts16',
    'audio_buffer\t\t20-160',
    ...(o.video ? VIDEO_CONFIG : []),
    `rtp_ports\t\t${o.rtp.min}-${o.rtp.max}`,
    'rtcp_mux\t\tno',
    'jitter_buffer_delay\t5-10',
    'rtp_stats\t\tyes',
    'module_path\t\t/usr/lib/baresip/modules',
    'module\t\t\tstdio.so',
    'module\t\t\tg711.so',
    'module\t\t\topus.so',
    `module\t\t\t${sourceModule}`,
    'module\t\t\taubridge.so',
    ...(o.video ? VIDEO_MODULES : []),
    'module\t\t\tsndfile.so',
    'module_tmp\t\tuuid.so',
    'module_tmp\t\taccount.so',
    'module_app\t\tcontact.so',
    'module_app\t\tmenu.so',
    `snd_path\t\t${join(o.dir, 'rec')}`,
    '',
  ].join('\n');
  writeFileSync(join(o.dir, 'config'), config);
  // No video_codecs filter: baresip 1.0 keeps only the FIRST codec of a listed name, which for
  // H264 is avcodec's packetization-mode=0 variant; unfiltered it offers pm=0 (PT 96) AND pm=1.
  writeFileSync(
    join(o.dir, 'accounts'),
    `<sip:${o.user}@127.0.0.1:${o.sipPort}>;regint=0;audio_codecs=${CODEC_PARAM[o.codec]}\n`,
  );
  return o.dir;
}

/** Paths of the decoded-audio recordings (`*-dec.wav`) baresip wrote under `dir`/rec. */
export function decodedRecordings(dir: string): string[] {
  const rec = join(dir, 'rec');
  try {
    return readdirSync(rec)
      .filter((f) => f.endsWith('-dec.wav'))
      .sort()
      .map((f) => join(rec, f));
  } catch {
    return [];
  }
}
