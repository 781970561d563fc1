"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.JitterBuffer = void 0;
exports.newJitterBufferStats = newJitterBufferStats;
/**
 * Per-participant audio jitter buffer: a bounded ring of RTP payloads ordered by 16-bit sequence
 * (wrap, duplicates, late and far-jump packets handled), decoded at playout into a PCM FIFO the
 * mixer pulls one 20 ms frame from per tick. Any ptime works. Never grows, never throws on input.
 */
const types_1 = require("../codecs/types");
/** A sequence jump beyond this (either way) means a new stream, not loss or reordering. */
const RESYNC_DISTANCE = 1000;
const FIFO_SIZE = types_1.MAX_DECODED_SAMPLES + 2 * types_1.MIX_FRAME_SAMPLES;
const SAMPLES_PER_MS = types_1.MIX_SAMPLE_RATE / 1000;
function newJitterBufferStats() {
    return { received: 0, decoded: 0, duplicates: 0, late: 0, dropped: 0, lost: 0, malformed: 0, decodeErrors: 0, underruns: 0, resyncs: 0 };
}
class JitterBuffer {
    codec;
    stats = newJitterBufferStats();
    mask;
    slotSeq;
    slotSamples;
    slotPayload;
    prefillSamples;
    maxDelaySamples;
    fifo = new Int16Array(FIFO_SIZE);
    fifoLen = 0;
    queued = 0;
    queuedSamples = 0;
    nextSeq = 0;
    started = false;
    playing = false;
    lastPacketSamples = types_1.MIX_FRAME_SAMPLES;
    pushedPacketSamples = types_1.MIX_FRAME_SAMPLES;
    constructor(codec, options = {}) {
        this.codec = codec;
        const capacity = options.capacity ?? 16;
        if (capacity < 2 || capacity > 1024 || (capacity & (capacity - 1)) !== 0) {
            throw new RangeError(`jitter buffer capacity must be a power of two in 2..1024, got ${capacity}`);
        }
        this.mask = capacity - 1;
        this.slotSeq = new Int32Array(capacity).fill(-1);
        this.slotSamples = new Int32Array(capacity);
        this.slotPayload = new Array(capacity).fill(undefined);
        this.prefillSamples = Math.max(0, options.prefillMs ?? 40) * SAMPLES_PER_MS;
        this.maxDelaySamples = (options.maxDelayMs ?? 160) * SAMPLES_PER_MS;
    }
    /** Audio waiting to be played, in mixer samples (decoded FIFO plus queued packets). */
    get bufferedSamples() {
        return this.fifoLen + this.queuedSamples;
    }
    get isPlaying() {
        return this.playing;
    }
    /**
     * Queues one received payload. The Buffer is kept by reference until decoded: the caller must
     * not reuse it. Returns false if the packet was dropped (see stats for why).
     */
    push(seq, payload) {
        this.stats.received++;
        const samples = this.codec.samplesIn(payload);
        if (samples <= 0) {
            this.stats.malformed++;
            return false;
        }
        seq &= 0xffff;
        if (!this.started) {
            this.started = true;
            this.nextSeq = seq;
        }
        let d = (((seq - this.nextSeq) & 0xffff) << 16) >> 16;
        if (d > 0 && !this.playing && this.queued === 0) {
            // Nothing is waiting: start the new talkspurt here instead of concealing the gap before it.
            this.nextSeq = seq;
            d = 0;
        }
        else if (d >= RESYNC_DISTANCE || d <= -RESYNC_DISTANCE) {
            this.resync(seq);
            d = 0;
        }
        if (d < 0) {
            this.stats.late++;
            return false;
        }
        if (d > this.mask)
            this.dropBefore((seq - this.mask) & 0xffff, d - this.mask);
        const slot = seq & this.mask;
        if (this.slotSeq[slot] === seq) {
            this.stats.duplicates++;
            return false;
        }
        this.slotSeq[slot] = seq;
        this.slotSamples[slot] = samples;
        this.pushedPacketSamples = samples;
        this.slotPayload[slot] = payload;
        this.queued++;
        this.queuedSamples += samples;
        return true;
    }
    /**
     * Fills `out` with the next MIX_FRAME_SAMPLES samples. Returns false (out untouched) while
     * prefilling or on underrun: the participant contributes nothing this tick.
     */
    pull(out) {
        // With long packets (60 ms) one packet alone is not a cushion: wait for one more frame's worth.
        const prefill = Math.max(this.prefillSamples, this.pushedPacketSamples + types_1.MIX_FRAME_SAMPLES);
        if (!this.playing) {
            if (this.queued === 0 || this.bufferedSamples < prefill)
                return false;
            this.playing = true;
        }
        const maxDelay = Math.max(this.maxDelaySamples, prefill + this.pushedPacketSamples + types_1.MIX_FRAME_SAMPLES);
        if (this.bufferedSamples > maxDelay)
            this.trimTo(prefill);
        while (this.fifoLen < types_1.MIX_FRAME_SAMPLES) {
            if (this.queued === 0) {
                this.stats.underruns++;
                this.playing = false;
                return false;
            }
            this.playNext();
        }
        const fifo = this.fifo;
        for (let i = 0; i < types_1.MIX_FRAME_SAMPLES; i++)
            out[i] = fifo[i] ?? 0;
        fifo.copyWithin(0, types_1.MIX_FRAME_SAMPLES, this.fifoLen);
        this.fifoLen -= types_1.MIX_FRAME_SAMPLES;
        return true;
    }
    /** Forgets all queued and decoded audio; the next packet starts a new stream. */
    reset() {
        this.clearSlots();
        this.fifoLen = 0;
        this.started = false;
        this.playing = false;
    }
    /** Decodes the packet due at nextSeq into the FIFO, or conceals it if it is missing. */
    playNext() {
        const seq = this.nextSeq;
        const slot = seq & this.mask;
        const room = FIFO_SIZE - this.fifoLen;
        if (this.slotSeq[slot] === seq) {
            const payload = this.slotPayload[slot];
            const expected = this.slotSamples[slot] ?? types_1.MIX_FRAME_SAMPLES;
            this.freeSlot(slot);
            let n = payload ? this.codec.decode(payload, this.fifo, this.fifoLen) : 0;
            if (n > 0) {
                this.stats.decoded++;
                this.lastPacketSamples = Math.min(n, types_1.MAX_DECODED_SAMPLES);
            }
            else {
                this.stats.decodeErrors++;
                n = this.codec.conceal(this.fifo, this.fifoLen, Math.min(expected, room));
            }
            this.fifoLen += Math.min(n, room);
        }
        else {
            this.stats.lost++;
            const n = this.codec.conceal(this.fifo, this.fifoLen, Math.min(this.lastPacketSamples, room));
            this.fifoLen += Math.min(n, room);
        }
        this.nextSeq = (seq + 1) & 0xffff;
    }
    /** Drops the oldest audio until at most `target` samples remain buffered. */
    trimTo(target) {
        for (let i = 0; i <= this.mask && this.queued > 0 && this.bufferedSamples > target; i++) {
            const slot = this.nextSeq & this.mask;
            if (this.slotSeq[slot] === this.nextSeq) {
                this.freeSlot(slot);
                this.stats.dropped++;
            }
            this.nextSeq = (this.nextSeq + 1) & 0xffff;
        }
    }
    /** Advances the window start to `newNext`, dropping queued packets that fall out of it. */
    dropBefore(newNext, count) {
        const n = Math.min(count, this.mask + 1);
        for (let i = 0; i < n; i++) {
            const seq = (this.nextSeq + i) & 0xffff;
            const slot = seq & this.mask;
            if (this.slotSeq[slot] === seq) {
                this.freeSlot(slot);
                this.stats.dropped++;
            }
        }
        this.nextSeq = newNext;
    }
    resync(seq) {
        this.stats.resyncs++;
        this.stats.dropped += this.queued;
        this.clearSlots();
        this.nextSeq = seq;
        this.playing = false;
    }
    freeSlot(slot) {
        this.queuedSamples -= this.slotSamples[slot] ?? 0;
        this.queued--;
        this.slotSeq[slot] = -1;
        this.slotPayload[slot] = undefined;
    }
    clearSlots() {
        this.slotSeq.fill(-1);
        this.slotPayload.fill(undefined);
        this.queued = 0;
        this.queuedSamples = 0;
    }
}
exports.JitterBuffer = JitterBuffer;
//# sourceMappingURL=jitter-buffer.js.map