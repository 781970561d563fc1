"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.AudioMixer = void 0;
/**
 * One conference's audio mixer: per participant a jitter buffer and decoder; every tick (20 ms)
 * the few loudest talkers are summed once, each talker gets the sum minus itself, and every other
 * listener shares one mix encoded once per codec. Never allocates per frame beyond the encoded
 * payloads, never emits per packet, never lets one participant's failure stop the room.
 */
const common_1 = require("../../common");
const active_speaker_1 = require("../active-speaker");
const codec_1 = require("../codecs/codec");
const types_1 = require("../codecs/types");
const jitter_buffer_1 = require("./jitter-buffer");
const levels_1 = require("./levels");
const limiter_1 = require("./limiter");
class Member {
    id;
    decoder;
    jb;
    sendCodec;
    send;
    pcm = new Int16Array(types_1.MIX_FRAME_SAMPLES);
    limiter = new limiter_1.Limiter();
    sendCodecIdx;
    ownEncoder;
    hasFrame = false;
    muted = false;
    level = levels_1.SILENCE_DBOV;
    smoothed = levels_1.SILENCE_DBOV;
    lastVoiceTick = -1e9;
    talker = false;
    wasTalker = false;
    framesMixed = 0;
    framesSent = 0;
    sendErrors = 0;
    constructor(id, decoder, jb, sendCodec, send) {
        this.id = id;
        this.decoder = decoder;
        this.jb = jb;
        this.sendCodec = sendCodec;
        this.send = send;
        this.sendCodecIdx = (0, types_1.codecIndex)(sendCodec);
    }
    pushRtp(seq, payload) {
        return this.jb.push(seq, payload);
    }
}
const RANK_SMOOTHING = 0.3;
class AudioMixer extends common_1.TypedEmitter {
    members = [];
    byId = new Map();
    talkers = [];
    talkerCount = 0;
    sum = new Int32Array(types_1.MIX_FRAME_SAMPLES);
    minusOwn = new Int32Array(types_1.MIX_FRAME_SAMPLES);
    sharedPcm = new Int16Array(types_1.MIX_FRAME_SAMPLES);
    talkerPcm = new Int16Array(types_1.MIX_FRAME_SAMPLES);
    sharedLimiter = new limiter_1.Limiter();
    sharedEncoders = types_1.AUDIO_CODEC_NAMES.map(() => undefined);
    sharedPayloads = types_1.AUDIO_CODEC_NAMES.map(() => undefined);
    sharedNeeded = types_1.AUDIO_CODEC_NAMES.map(() => false);
    detector;
    factory;
    maxTalkers;
    vadThreshold;
    hangoverTicks;
    stickiness;
    ticks = 0;
    talkerEncodes = 0;
    encodeErrors = 0;
    closed = false;
    constructor(options = {}) {
        super();
        this.maxTalkers = Math.max(1, Math.floor(options.maxTalkers ?? 3));
        this.vadThreshold = options.vadThresholdDbov ?? -45;
        this.hangoverTicks = Math.round((options.talkerHangoverMs ?? 300) / types_1.MIX_FRAME_MS);
        this.stickiness = options.talkerStickinessDb ?? 6;
        this.factory = options.codecFactory ?? ((name) => (0, codec_1.createAudioCodec)(name));
        this.detector = new active_speaker_1.ActiveSpeakerDetector({ thresholdDbov: this.vadThreshold, ...options.activeSpeaker });
    }
    get size() {
        return this.members.length;
    }
    get activeSpeaker() {
        return this.detector.dominant;
    }
    addParticipant(id, options) {
        if (this.closed)
            throw new common_1.ConfnodeError('closed', 'audio mixer is closed');
        if (this.byId.has(id))
            throw new common_1.ConfnodeError('bad-request', `participant ${id} already in the mixer`);
        if (options.send && !options.sendCodec) {
            throw new common_1.ConfnodeError('bad-request', `participant ${id} has a sink but no send codec`);
        }
        const decoder = this.factory(options.recvCodec);
        const jb = new jitter_buffer_1.JitterBuffer(decoder, options.jitter);
        const m = new Member(id, decoder, jb, options.sendCodec ?? options.recvCodec, options.send);
        this.members.push(m);
        this.byId.set(id, m);
        return m;
    }
    removeParticipant(id) {
        const m = this.byId.get(id);
        if (!m)
            return false;
        this.byId.delete(id);
        this.members.splice(this.members.indexOf(m), 1);
        m.decoder.close();
        m.ownEncoder?.close();
        if (this.detector.remove(id))
            this.emit('activeSpeaker', undefined);
        return true;
    }
    /** Per received RTP packet of the participant's negotiated audio payload type. */
    pushRtp(id, seq, payload) {
        const m = this.byId.get(id);
        return m ? m.jb.push(seq, payload) : false;
    }
    /** A muted participant still receives the mix but contributes nothing. */
    setMuted(id, muted) {
        const m = this.byId.get(id);
        if (m)
            m.muted = muted;
    }
    isTalker(id) {
        return this.byId.get(id)?.talker ?? false;
    }
    /** Current talkers (control rate: allocates). */
    currentTalkers() {
        return this.talkers.slice(0, this.talkerCount).map((m) => m.id);
    }
    participantStats(id) {
        const m = this.byId.get(id);
        if (!m)
            return undefined;
        return {
            ...m.jb.stats,
            framesMixed: m.framesMixed,
            framesSent: m.framesSent,
            sendErrors: m.sendErrors,
            levelDbov: m.level,
            talker: m.talker,
            muted: m.muted,
        };
    }
    stats() {
        const sharedEncodes = { PCMU: 0, PCMA: 0, opus: 0, G722: 0 };
        for (const name of types_1.AUDIO_CODEC_NAMES)
            sharedEncodes[name] = this.sharedEncoders[(0, types_1.codecIndex)(name)]?.encodeCount ?? 0;
        return {
            ticks: this.ticks,
            participants: this.members.length,
            talkers: this.talkerCount,
            sharedEncodes,
            talkerEncodes: this.talkerEncodes,
            encodeErrors: this.encodeErrors,
        };
    }
    /** One 20 ms mix for the room. Called by the MixClock; never throws. */
    tick() {
        if (this.closed)
            return;
        this.ticks++;
        this.pullFrames();
        this.selectTalkers();
        this.sumTalkers();
        this.sendShared();
        this.sendTalkers();
        if (this.detector.decide(this.ticks * types_1.MIX_FRAME_MS))
            this.emit('activeSpeaker', this.detector.dominant);
    }
    /** Idempotent: frees every codec; later ticks do nothing. */
    close() {
        if (this.closed)
            return;
        for (const m of [...this.members])
            this.removeParticipant(m.id);
        for (const enc of this.sharedEncoders)
            enc?.close();
        this.sharedEncoders.fill(undefined);
        this.sharedPayloads.fill(undefined);
        this.closed = true;
        this.removeAllListeners();
    }
    pullFrames() {
        const members = this.members;
        for (let i = 0; i < members.length; i++) {
            const m = members[i];
            if (!m)
                continue;
            // A muted participant's buffer is still drained so it does not overflow or lag.
            m.hasFrame = m.jb.pull(m.pcm) && !m.muted;
            m.level = m.hasFrame ? (0, levels_1.frameLevelDbov)(m.pcm, types_1.MIX_FRAME_SAMPLES) : levels_1.SILENCE_DBOV;
            m.smoothed += (m.level - m.smoothed) * RANK_SMOOTHING;
            if (m.level > this.vadThreshold)
                m.lastVoiceTick = this.ticks;
            this.detector.observe(m.id, m.level);
        }
    }
    /** Picks up to maxTalkers voiced participants by smoothed level; current talkers get a bonus. */
    selectTalkers() {
        const members = this.members;
        for (let i = 0; i < members.length; i++) {
            const m = members[i];
            if (!m)
                continue;
            m.wasTalker = m.talker;
            m.talker = false;
        }
        this.talkerCount = 0;
        for (let k = 0; k < this.maxTalkers; k++) {
            let best;
            let bestScore = -Infinity;
            for (let i = 0; i < members.length; i++) {
                const m = members[i];
                if (!m || m.talker || !m.hasFrame || this.ticks - m.lastVoiceTick > this.hangoverTicks)
                    continue;
                const score = m.smoothed + (m.wasTalker ? this.stickiness : 0);
                if (score > bestScore) {
                    bestScore = score;
                    best = m;
                }
            }
            if (!best)
                break;
            best.talker = true;
            this.talkers[this.talkerCount++] = best;
        }
    }
    sumTalkers() {
        const sum = this.sum;
        sum.fill(0);
        for (let t = 0; t < this.talkerCount; t++) {
            const m = this.talkers[t];
            if (!m)
                continue;
            m.framesMixed++;
            const pcm = m.pcm;
            for (let i = 0; i < types_1.MIX_FRAME_SAMPLES; i++)
                sum[i] = (sum[i] ?? 0) + (pcm[i] ?? 0);
        }
    }
    /** Encodes the all-talkers mix once per codec some non-talker listener needs, and sends it. */
    sendShared() {
        const members = this.members;
        const needed = this.sharedNeeded;
        needed.fill(false);
        let any = false;
        for (let i = 0; i < members.length; i++) {
            const m = members[i];
            if (m && m.send && !m.talker)
                needed[m.sendCodecIdx] = any = true;
        }
        if (!any)
            return;
        this.sharedLimiter.process(this.sum, this.sharedPcm, types_1.MIX_FRAME_SAMPLES);
        for (let c = 0; c < needed.length; c++) {
            this.sharedPayloads[c] = needed[c] ? this.encodeSafe(this.sharedEncoder(c), this.sharedPcm) : undefined;
        }
        for (let i = 0; i < members.length; i++) {
            const m = members[i];
            if (!m || !m.send || m.talker)
                continue;
            const payload = this.sharedPayloads[m.sendCodecIdx];
            const enc = this.sharedEncoders[m.sendCodecIdx];
            if (payload && enc)
                this.deliver(m, m.send, payload, enc.rtpSamplesPer20ms);
        }
    }
    /** Each talker with a sink hears the sum minus its own frame, through its own encoder. */
    sendTalkers() {
        const sum = this.sum;
        const minus = this.minusOwn;
        for (let t = 0; t < this.talkerCount; t++) {
            const m = this.talkers[t];
            if (!m || !m.send)
                continue;
            const pcm = m.pcm;
            for (let i = 0; i < types_1.MIX_FRAME_SAMPLES; i++)
                minus[i] = (sum[i] ?? 0) - (pcm[i] ?? 0);
            m.limiter.process(minus, this.talkerPcm, types_1.MIX_FRAME_SAMPLES);
            if (!m.ownEncoder)
                m.ownEncoder = this.factory(m.sendCodec);
            this.talkerEncodes++;
            const payload = this.encodeSafe(m.ownEncoder, this.talkerPcm);
            if (payload)
                this.deliver(m, m.send, payload, m.ownEncoder.rtpSamplesPer20ms);
        }
    }
    sharedEncoder(c) {
        let enc = this.sharedEncoders[c];
        if (!enc) {
            enc = this.factory(types_1.AUDIO_CODEC_NAMES[c] ?? 'PCMU');
            this.sharedEncoders[c] = enc;
        }
        return enc;
    }
    encodeSafe(enc, pcm) {
        try {
            return enc.encode(pcm);
        }
        catch {
            this.encodeErrors++;
            return undefined;
        }
    }
    deliver(m, send, payload, step) {
        try {
            send(payload, step);
            m.framesSent++;
        }
        catch {
            m.sendErrors++;
        }
    }
}
exports.AudioMixer = AudioMixer;
//# sourceMappingURL=audio-mixer.js.map