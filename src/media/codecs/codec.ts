/**
 * Codec factory: the one place that maps a negotiated codec name to an AudioCodec instance.
 * Every instance carries per-stream state, so never share one between two streams.
 */
import { G711Codec } from './g711';
import { G722Codec } from './g722';
import { OpusCodec } from './opus';
import type { AudioCodec, AudioCodecFactory, AudioCodecName, AudioCodecOptions } from './types';

export * from './types';

export function createAudioCodec(name: AudioCodecName, options: AudioCodecOptions = {}): AudioCodec {
  switch (name) {
    case 'PCMU':
    case 'PCMA':
      return new G711Codec(name);
    case 'G722':
      return new G722Codec();
    case 'opus':
      return new OpusCodec({
        complexity: options.opusComplexity,
        bitrate: options.opusBitrate,
        application: options.opusApplication,
      });
  }
}

/** A factory with fixed options, the shape the mixer takes. */
export function audioCodecFactory(options: AudioCodecOptions = {}): AudioCodecFactory {
  return (name) => createAudioCodec(name, options);
}

/**
 * Maps an SDP rtpmap encoding name (case-insensitive, RFC 4566) and clock rate to our codec
 * name; undefined for anything the mixer cannot decode (G.729, telephone-event, ...).
 */
export function audioCodecNameOf(encodingName: string, clockRate?: number): AudioCodecName | undefined {
  const n = encodingName.toUpperCase();
  if ((n === 'PCMU' || n === 'PCMA') && (clockRate === undefined || clockRate === 8000)) return n;
  if (n === 'OPUS' && (clockRate === undefined || clockRate === 48000)) return 'opus';
  // RFC 3551 4.5.2: G.722 samples at 16 kHz but its RTP clock is 8000 (a historical error kept).
  if (n === 'G722' && (clockRate === undefined || clockRate === 8000)) return 'G722';
  return undefined;
}
