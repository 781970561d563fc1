// The join page's logic: camera and microphone, WebSocket signaling on /ws (JSON messages, see
// src/signaling/webrtc/protocol.ts), one RTCPeerConnection to the node (the server is the
// "impolite" side: on glare we roll back), a tile per participant. Plain JS, no build step.
// Everything from the network is shown with textContent, never as HTML.
(function () {
  'use strict';

  const GATHER_TIMEOUT_MS = 3000;
  /** After the first usable UDP candidate, the SDP waits this long for its siblings. */
  const CANDIDATE_GRACE_MS = 15;
  /** After the connection failed, how long an ICE restart may take before the page gives up. */
  const ICE_RESTART_MS = 15000;
  /**
   * After the WebSocket dropped, how long the page tries to resume its session (the server keeps
   * the participant 20 s, RESUME_GRACE_MS in protocol.ts); media goes on meanwhile.
   */
  const RESUME_MS = 18000;
  /** Own messages kept for resending after a resume (the server says which it already has). */
  const MAX_OUTBOX = 32;
  /**
   * Heartbeat: a `ping` every HEARTBEAT_MS; a socket that brought nothing (not even a `pong`) for
   * DEAD_SOCKET_MS is taken for dead (a network change can kill it without a close) and resumed.
   */
  const HEARTBEAT_MS = 5000;
  const DEAD_SOCKET_MS = 12000;
  const ERROR_TEXT = {
    'not-found': (alias) => `There is no room called "${alias}". Check the room name.`,
    full: () => 'The room is full. Please try again later.',
    unavailable: () => 'The conference service is busy or partly unreachable. Please try again in a few seconds.',
    'pin-required': () => 'This room needs a PIN: enter it and join again.',
    'pin-invalid': (_a, m) => `The PIN was not accepted: ${m}`,
    token: (_a, m) => `This room needs a valid invitation link: ${m}.`,
    'media-failed': () => 'The media connection to the server failed (is UDP blocked?).',
    timeout: (_a, m) => `The server gave up waiting: ${m}`,
    'bad-message': (_a, m) => `The server refused a message: ${m}`,
    internal: () => 'The server had a problem. Please try again.',
    negotiation: (_a, m) => m,
    lost: () => 'The connection to the server was lost.',
  };

  /** Test hooks (and a handy console handle): read by the browser tests. */
  const hooks = {
    pc: null,
    ws: null,
    state: 'idle',
    participants: [],
    participantId: null,
    conference: null,
    activeSpeaker: null,
    error: null,
    note: null,
    localStream: null,
    /** Remote track id -> participant id (for matching getStats() inbound-rtp to participants). */
    trackOwner: {},
    timings: {},
    /** The last few SDPs both ways, for test failure messages and the console. */
    sdpLog: [],
    /** The peer connection's state changes ({ state, at: ms since join }), the last 20. */
    connectionLog: [],
    /** Restarts ICE now, as the page does by itself when its connection failed. */
    restartIce: () => {
      if (session && !session.ended) restartIce(session);
    },
    /** WebSocket resumes that succeeded (the same participant on a new socket). */
    resumes: 0,
    /** Stops reading the current socket, as when it died silently: the heartbeat notices and resumes. */
    deafSocket: () => {
      if (session) session.deafWs = session.ws;
    },
    /** Drops the signaling WebSocket as a network fault would; the page resumes after holdMs (default at once). */
    dropSocket: (holdMs) => {
      if (!session || !session.ws) return;
      session.holdResumeMs = holdMs || 0;
      session.ws.close(3000, 'dropped');
    },
  };

  function logSdp(dir, sdp) {
    hooks.sdpLog.push({ dir, sdp, at: Math.round(performance.now() - ((hooks.timings && hooks.timings.start) || 0)) });
    if (hooks.sdpLog.length > 8) hooks.sdpLog.shift();
  }
  window.confnode = hooks;

  const $ = (id) => document.getElementById(id);
  const els = {
    form: $('join-form'), alias: $('alias'), name: $('name'), error: $('error'), note: $('note'),
    status: $('status'), room: $('room'), call: $('call'), tiles: $('tiles'), left: $('left'),
    muteAudio: $('mute-audio'), muteVideo: $('mute-video'), leave: $('leave'), rejoin: $('rejoin'),
    template: $('tile-template'), sipHint: $('sip-hint'), pin: $('pin'), pinLabel: $('pin-label'),
  };

  /** participantId -> { el, video, name, flags, stream } */
  const tiles = new Map();
  /** Streams whose participant is not in the list yet. */
  const pendingStreams = new Map();
  let session = null; // { alias, name, ws, pc, chain, local, ended }

  const STATUS_TEXT = {
    idle: '', media: 'Asking for camera and microphone…', connecting: 'Connecting…', negotiating: 'Setting up media…',
    joined: 'Connected', left: 'Left', error: '',
  };
  function setState(state) {
    hooks.state = state;
    document.body.dataset.state = state;
    els.status.textContent = STATUS_TEXT[state] || '';
    els.call.hidden = !(state === 'negotiating' || state === 'joined');
    els.left.hidden = state !== 'left';
  }

  function showError(code, message) {
    const alias = session ? session.alias : '';
    const text = (ERROR_TEXT[code] || ((_a, m) => m || code))(alias, message || '');
    hooks.error = { code, message: text };
    els.error.textContent = text;
    els.error.hidden = false;
  }

  /** Shows the PIN field (empty) and puts the cursor in it. */
  function askForPin() {
    els.pinLabel.hidden = false;
    els.pin.value = '';
    els.pin.focus();
  }

  function showNote(text) {
    hooks.note = text;
    els.note.textContent = text;
    els.note.hidden = !text;
  }

  function clearMessages() {
    hooks.error = null;
    els.error.hidden = true;
    showNote('');
  }

  // ---- local media -------------------------------------------------------------------------

  /**
   * `&video=small` asks for 320x240 at 15 fps: a weak machine (or a test running many pages on
   * two cores) can then encode and decode a large room; the default stays 640x480.
   */
  const SMALL_VIDEO = new URLSearchParams(location.search).get('video') === 'small';
  /**
   * `&relay=1` (a diagnostic): media only through the TURN servers the node hands out
   * (iceTransportPolicy 'relay'), as a browser whose network blocks UDP to the node would.
   */
  const RELAY_ONLY = new URLSearchParams(location.search).get('relay') === '1';
  /** `&token=` (an invitation link): a signed join token, sent with the join; its name and role count. */
  const INVITE_TOKEN = (new URLSearchParams(location.search).get('token') || '').trim();

  /** The display name inside a join token, for the form only (the node checks the token). */
  function tokenName(token) {
    try {
      const part = token.split('.')[1] || '';
      const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
      const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
      const name = JSON.parse(new TextDecoder().decode(bytes)).name;
      return typeof name === 'string' ? name.trim().slice(0, 64) : '';
    } catch (_e) {
      return '';
    }
  }
  function videoConstraints() {
    if (SMALL_VIDEO) {
      return { width: { ideal: 320 }, height: { ideal: 240 }, frameRate: { ideal: 15, max: 15 } };
    }
    return { width: { ideal: 640 }, height: { ideal: 480 } };
  }

  /** Camera and microphone; without a camera, audio only (with a visible note). */
  async function getLocalMedia() {
    const md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      showNote('This browser cannot use a camera or microphone here (a page on http:// other than localhost?): you can only watch and listen.');
      return new MediaStream();
    }
    try {
      return await md.getUserMedia({ audio: true, video: videoConstraints() });
    } catch (err) {
      try {
        const audio = await md.getUserMedia({ audio: true });
        showNote(`No camera available (${err.name}): you joined with audio only.`);
        return audio;
      } catch (err2) {
        showNote(`No camera or microphone available (${err2.name}): you can only watch and listen.`);
        return new MediaStream();
      }
    }
  }

  // ---- joining -----------------------------------------------------------------------------

  async function join(alias, name, pin) {
    if (session && !session.ended) return;
    clearMessages();
    hooks.timings = { start: performance.now() };
    hooks.connectionLog = [];
    session = {
      alias, name, pin: pin || '', token: INVITE_TOKEN, iceServers: [], ws: null, pc: null, chain: Promise.resolve(), local: null, ended: false, gotError: false, iceRestartTimer: null,
      // Resuming a dropped WebSocket: the token from joined, the last server seq handled, our own seq and unacknowledged messages.
      resumeToken: null, lastSeq: 0, seq: 0, outbox: [], resumeUntil: 0, resumeTimer: null,
      lastHeard: 0, heartbeat: null, deafWs: null,
    };
    const s = session;
    setState('media');
    s.local = await getLocalMedia();
    if (s.ended) return;
    hooks.localStream = s.local;
    els.room.textContent = `Room ${alias}`;
    setState('connecting');
    openSocket(s, (ws) => {
      hooks.timings.wsOpen = performance.now();
      const msg = { type: 'join', alias, name, video: s.local.getVideoTracks().length > 0 };
      if (s.pin) msg.pin = s.pin;
      if (s.token) msg.token = s.token;
      ws.send(JSON.stringify(msg));
    });
  }

  function signalingUrl() {
    return `${location.protocol === 'https:' ? 'wss://' : 'ws://'}${location.host}/ws`;
  }

  /** A new signaling socket for the session; `opened` sends its first message (join or resume). */
  function openSocket(s, opened) {
    const ws = new WebSocket(signalingUrl());
    s.ws = ws;
    hooks.ws = ws;
    ws.onopen = () => {
      s.lastHeard = performance.now();
      opened(ws);
    };
    ws.onmessage = (ev) => {
      if (s.ws !== ws || s.deafWs === ws) return;
      s.lastHeard = performance.now();
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_e) {
        return;
      }
      if (typeof msg.seq === 'number') {
        if (msg.seq <= s.lastSeq) return; // replayed after a resume, but handled before the drop
        s.lastSeq = msg.seq;
      }
      onMessage(s, msg);
    };
    ws.onclose = (ev) => {
      if (s.ws === ws) onSocketClosed(s, ev);
    };
  }

  /** After joined, every message is numbered and kept until a resume could need it again. */
  function send(s, msg) {
    if (s.resumeToken) {
      msg.seq = ++s.seq;
      s.outbox.push(msg);
      if (s.outbox.length > MAX_OUTBOX) s.outbox.shift();
    }
    if (s.ws && s.ws.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify(msg));
  }

  function onMessage(s, msg) {
    if (s.ended) return;
    switch (msg.type) {
      case 'joined':
        s.resumeToken = msg.resumeToken || null;
        if (s.resumeToken) startHeartbeat(s);
        hooks.participantId = msg.participantId;
        hooks.conference = msg.conference;
        hooks.timings.joined = performance.now();
        // A join token's name wins over the typed one; TURN credentials are for this session only.
        if (typeof msg.name === 'string' && msg.name) s.name = msg.name;
        s.iceServers = Array.isArray(msg.iceServers) ? msg.iceServers : [];
        if (RELAY_ONLY && s.iceServers.length === 0) showNote('relay=1, but the server offers no TURN server: media cannot connect.');
        startPeer(s);
        break;
      case 'answer':
        queue(s, () => onServerAnswer(s, msg.sdp));
        break;
      case 'offer':
        queue(s, () => onServerOffer(s, msg.sdp));
        break;
      case 'participants':
        renderParticipants(msg.participants);
        break;
      case 'activeSpeaker':
        setActiveSpeaker(msg.participantId);
        break;
      case 'resumed':
        onResumed(s, msg);
        break;
      case 'error':
        if (msg.code === 'resume-failed') break; // the close that follows ends the resume
        s.gotError = true;
        showError(msg.code, msg.message);
        if ((msg.code === 'pin-required' || msg.code === 'pin-invalid') && !s.token) askForPin();
        break;
      default:
        break;
    }
  }

  /** Close codes that mean the server ended the call (or refused it), not a network fault. */
  const FINAL_CLOSE = new Set([1000, 1001, 1008, 1011, 4000, 4001]);

  function onSocketClosed(s, ev) {
    if (s.ended) return;
    if (s.resumeToken && !s.gotError && !FINAL_CLOSE.has(ev.code)) {
      resumeSoon(s);
      return;
    }
    clearTimeout(s.resumeTimer);
    if (!s.gotError) {
      if (ev.code === 4000) showError('ended', `The call was ended: ${ev.reason || 'by the server'}.`);
      else if (ev.code === 1001) showError('ended', 'The server is shutting down.');
      else showError('lost');
    }
    teardown(s);
    setState('error');
  }

  /**
   * The signaling socket dropped while joined: media goes on, and the page opens a new socket
   * that takes over the same participant (`resume`), retrying until RESUME_MS has passed.
   */
  function resumeSoon(s) {
    const now = performance.now();
    if (!s.resumeUntil) {
      s.resumeUntil = now + RESUME_MS;
      s.resumeDelay = s.holdResumeMs || 250;
      s.holdResumeMs = 0;
      els.status.textContent = 'Reconnecting…';
    }
    if (now >= s.resumeUntil) {
      s.resumeToken = null; // the next close is final
      onSocketClosed(s, { code: 1006, reason: '' });
      return;
    }
    clearTimeout(s.resumeTimer);
    s.resumeTimer = setTimeout(() => {
      if (s.ended) return;
      openSocket(s, (ws) => ws.send(JSON.stringify({ type: 'resume', token: s.resumeToken, lastSeq: s.lastSeq })));
    }, s.resumeDelay);
    s.resumeDelay = Math.min(2000, s.resumeDelay * 2);
  }

  function startHeartbeat(s) {
    clearInterval(s.heartbeat);
    s.heartbeat = setInterval(() => {
      const ws = s.ws;
      if (s.ended || !ws || ws.readyState !== WebSocket.OPEN) return;
      if (performance.now() - s.lastHeard > DEAD_SOCKET_MS) {
        // Its close event may take minutes on a dead connection: leave it behind and resume.
        s.ws = null;
        try {
          ws.close(3001, 'no pong');
        } catch (_e) {
          // closing a dead socket may throw in some browsers; it is abandoned either way
        }
        resumeSoon(s);
        return;
      }
      ws.send(JSON.stringify({ type: 'ping', lastSeq: s.lastSeq }));
    }, HEARTBEAT_MS);
  }

  /** The server took the new socket: resend what it did not get, carry on. */
  function onResumed(s, msg) {
    s.resumeUntil = 0;
    hooks.resumes++;
    for (const m of s.outbox) if (m.seq > msg.lastSeq) s.ws.send(JSON.stringify(m));
    if (hooks.state === 'joined' && s.pc && s.pc.connectionState === 'connected') els.status.textContent = STATUS_TEXT.joined;
  }

  /** Resumes only to deliver the `leave` just queued (and nothing else it had not sent). */
  function leaveByResume(s) {
    const bye = s.outbox[s.outbox.length - 1];
    const ws = new WebSocket(signalingUrl());
    ws.onopen = () => ws.send(JSON.stringify({ type: 'resume', token: s.resumeToken, lastSeq: s.lastSeq }));
    ws.onmessage = (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch (_e) {
        return;
      }
      if (msg.type === 'resumed' && bye) ws.send(JSON.stringify(bye));
    };
    setTimeout(() => ws.close(), 5000);
  }

  // ---- WebRTC ------------------------------------------------------------------------------

  function startPeer(s) {
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      // No public STUN: the node offers its own address; TURN only when the node hands some out.
      iceServers: s.iceServers,
      iceTransportPolicy: RELAY_ONLY ? 'relay' : 'all',
    });
    s.pc = pc;
    hooks.pc = pc;
    const audio = s.local.getAudioTracks()[0];
    const video = s.local.getVideoTracks()[0];
    pc.addTransceiver(audio || 'audio', { direction: audio ? 'sendrecv' : 'recvonly', streams: [s.local] });
    pc.addTransceiver(video || 'video', { direction: video ? 'sendrecv' : 'recvonly', streams: [s.local] });
    pc.ontrack = (ev) => {
      const stream = ev.streams[0];
      if (!stream) return; // the server always sets msid = participant id
      hooks.timings.firstTrack = hooks.timings.firstTrack || performance.now();
      hooks.trackOwner[ev.track.id] = stream.id;
      attachStream(stream.id, stream);
      ev.track.onunmute = () => refreshVideoState(stream.id);
      ev.track.onmute = () => refreshVideoState(stream.id);
      ev.track.onended = () => refreshVideoState(stream.id);
      stream.onremovetrack = () => refreshVideoState(stream.id);
    };
    pc.onconnectionstatechange = () => {
      if (s.ended) return;
      hooks.connectionLog.push({ state: pc.connectionState, at: Math.round(performance.now() - hooks.timings.start) });
      if (hooks.connectionLog.length > 20) hooks.connectionLog.shift();
      if (pc.connectionState === 'connected') {
        hooks.timings.connected = hooks.timings.connected || performance.now();
        clearTimeout(s.iceRestartTimer);
        s.iceRestartTimer = null;
        setState('joined');
        // Media came up while the signaling socket is down: the page still says it is reconnecting.
        if (s.resumeUntil) els.status.textContent = 'Reconnecting…';
      } else if (pc.connectionState === 'disconnected' && hooks.state === 'joined') {
        // Usually back within seconds by itself (or through an ICE restart): say so, keep the call.
        els.status.textContent = 'Reconnecting…';
      } else if (pc.connectionState === 'failed' && hooks.timings.connected && !s.iceRestartTimer) {
        // It worked before (a network change, a sleeping laptop): new ICE credentials first.
        els.status.textContent = 'Reconnecting…';
        s.iceRestartTimer = setTimeout(() => {
          if (pc.connectionState !== 'connected') mediaFailed(s);
        }, ICE_RESTART_MS);
        restartIce(s);
      } else if (pc.connectionState === 'failed' && !s.iceRestartTimer) {
        mediaFailed(s);
      }
    };
    setState('negotiating');
    renderSelf();
    queue(s, () => sendOffer(s));
  }

  function mediaFailed(s) {
    if (s.ended) return;
    s.gotError = true;
    showError('media-failed');
    leave(s, false);
    setState('error');
  }

  /** Offers new ICE credentials (RFC 8445 9); the server answers and the checks run again. */
  function restartIce(s) {
    if (s.ended || !s.pc) return;
    s.pc.udpCandidatesIn = false; // new credentials, new candidates: wait for them again
    s.pc.restartIce();
    queue(s, () => sendOffer(s));
  }

  /** Every negotiation step runs in order: a server offer never interleaves with ours. */
  function queue(s, step) {
    s.chain = s.chain.then(() => (s.ended ? undefined : step())).catch((err) => {
      if (s.ended) return;
      console.error('negotiation failed', err);
      s.gotError = true;
      showError('negotiation', `Could not set up media with the server: ${err && err.message ? err.message : err}`);
      leave(s, true);
      setState('error');
    });
  }

  /**
   * Opus DTX on our microphone: in silence Chromium then sends one comfort-noise frame per 400 ms
   * instead of 50 frames a second, which every other participant need not receive. Chromium reads
   * `usedtx` from its own description (the server's answer says it too, per RFC 7587).
   */
  function withDtx(desc) {
    const opus = new Set();
    for (const m of desc.sdp.matchAll(/^a=rtpmap:(\d+) opus\/48000/gim)) opus.add(m[1]);
    const sdp = desc.sdp.replace(/^a=fmtp:(\d+) ([^\r\n]*)/gm, (line, pt, params) =>
      opus.has(pt) && !/(^|;)\s*usedtx=/.test(params) ? `${line};usedtx=1` : line);
    return { type: desc.type, sdp };
  }

  async function sendOffer(s) {
    hooks.timings.offering = hooks.timings.offering || performance.now();
    await s.pc.setLocalDescription(withDtx(await s.pc.createOffer()));
    hooks.timings.offerSet = hooks.timings.offerSet || performance.now();
    await gatheringDone(s.pc);
    logSdp('out-offer', s.pc.localDescription.sdp);
    send(s, { type: 'offer', sdp: s.pc.localDescription.sdp });
  }

  async function onServerAnswer(s, sdp) {
    // An answer to an offer we rolled back (glare) is stale: our offer goes again later.
    logSdp('in-answer', sdp);
    if (s.pc.signalingState !== 'have-local-offer') return;
    // A late answer to an offer we rolled back would not fit the offer now pending: wait for its own.
    const mlines = (text) => (text.match(/^m=/gm) || []).length;
    if (mlines(sdp) !== mlines(s.pc.localDescription.sdp)) return;
    await s.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  async function onServerOffer(s, sdp) {
    const pc = s.pc;
    logSdp('in-offer', sdp);
    let rolledBack = false;
    if (pc.signalingState === 'have-local-offer') {
      // The server is impolite: its offer wins, ours is renegotiated after the answer.
      await pc.setLocalDescription({ type: 'rollback' });
      rolledBack = true;
    }
    await pc.setRemoteDescription({ type: 'offer', sdp });
    await pc.setLocalDescription(withDtx(await pc.createAnswer()));
    await gatheringDone(pc);
    logSdp('out-answer', pc.localDescription.sdp);
    send(s, { type: 'answer', sdp: pc.localDescription.sdp });
    if (rolledBack) await sendOffer(s);
  }

  /**
   * No trickle ICE in this protocol: the SDP carries the candidates, so wait for the ones the node
   * can use (bounded). Those are UDP: the node does no ICE-TCP, and Chromium gathers its TCP host
   * candidates ~110 ms after the UDP ones, which was a third of a join's time to its offer. So an
   * SDP goes once the UDP candidates are in: the host ones (all in one tick), or the relay ones when
   * the node handed out TURN servers; gathering that goes on is not waited for again.
   */
  function gatheringDone(pc) {
    if (pc.iceGatheringState === 'complete' || pc.udpCandidatesIn) return Promise.resolve();
    const wantRelay = RELAY_ONLY || (session && session.iceServers.length > 0);
    return new Promise((resolve) => {
      const timer = setTimeout(done, GATHER_TIMEOUT_MS);
      let grace = null;
      function done() {
        clearTimeout(timer);
        clearTimeout(grace);
        pc.removeEventListener('icegatheringstatechange', check);
        pc.removeEventListener('icecandidate', onCandidate);
        resolve();
      }
      function check() {
        if (pc.iceGatheringState === 'complete') done();
      }
      function onCandidate(ev) {
        const c = ev.candidate;
        if (!c || c.protocol !== 'udp' || (wantRelay && c.type !== 'relay') || grace) return;
        // Candidates of the same kind come together: a short grace lets the rest of them in.
        grace = setTimeout(() => {
          pc.udpCandidatesIn = true;
          done();
        }, CANDIDATE_GRACE_MS);
      }
      pc.addEventListener('icegatheringstatechange', check);
      pc.addEventListener('icecandidate', onCandidate);
    });
  }

  // ---- tiles -------------------------------------------------------------------------------

  function makeTile(id) {
    const el = els.template.content.firstElementChild.cloneNode(true);
    el.dataset.participant = id;
    const t = { el, video: el.querySelector('video'), name: el.querySelector('.name'), flags: el.querySelector('.flags'), avatar: el.querySelector('.avatar'), stream: null, entry: null };
    tiles.set(id, t);
    els.tiles.appendChild(el);
    return t;
  }

  function renderSelf() {
    const id = hooks.participantId;
    const t = tiles.get(id) || makeTile(id);
    t.el.classList.add('self');
    t.video.muted = true; // never play our own microphone back
    t.video.srcObject = session.local;
    t.name.textContent = `${session.name} (you)`;
    t.avatar.textContent = initials(session.name);
    refreshVideoState(id);
  }

  function renderParticipants(list) {
    hooks.participants = list;
    const ids = new Set(list.map((p) => p.id));
    for (const [id, t] of tiles) {
      if (!ids.has(id) && id !== hooks.participantId) {
        t.video.srcObject = null;
        t.el.remove();
        tiles.delete(id);
      }
    }
    for (const p of list) {
      const t = tiles.get(p.id) || makeTile(p.id);
      t.entry = p;
      if (p.id === hooks.participantId) continue;
      t.name.textContent = p.name;
      t.avatar.textContent = p.protocol === 'sip' ? 'SIP' : initials(p.name);
      t.el.classList.toggle('sip', p.protocol === 'sip');
      t.flags.textContent = [p.audio ? '' : 'muted', p.protocol === 'sip' ? 'phone' : ''].filter(Boolean).join(' · ');
      const pending = pendingStreams.get(p.id);
      if (pending) {
        pendingStreams.delete(p.id);
        setStream(t, pending);
      }
      refreshVideoState(p.id);
    }
    setActiveSpeaker(hooks.activeSpeaker);
    els.room.textContent = `Room ${session ? session.alias : ''} · ${list.length} here`;
  }

  function attachStream(id, stream) {
    const t = tiles.get(id);
    if (!t || id === hooks.participantId) {
      pendingStreams.set(id, stream);
      return;
    }
    setStream(t, stream);
  }

  function setStream(t, stream) {
    if (t.stream !== stream) {
      t.stream = stream;
      t.video.srcObject = stream;
      t.video.play().catch(() => undefined);
    }
    refreshVideoState(t.el.dataset.participant);
  }

  function refreshVideoState(id) {
    const t = tiles.get(id);
    if (!t) return;
    let on;
    if (id === hooks.participantId) {
      const v = session && session.local && session.local.getVideoTracks()[0];
      on = Boolean(v && v.enabled);
    } else {
      const live = t.stream && t.stream.getVideoTracks().some((tr) => tr.readyState === 'live' && !tr.muted);
      on = Boolean(live && (!t.entry || t.entry.video));
    }
    t.el.classList.toggle('video-on', on);
  }

  function setActiveSpeaker(id) {
    hooks.activeSpeaker = id;
    for (const [pid, t] of tiles) t.el.classList.toggle('speaking', pid === id);
  }

  function initials(name) {
    return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
  }

  // ---- controls ----------------------------------------------------------------------------

  function toggle(kind) {
    const s = session;
    if (!s || !s.local) return;
    const track = kind === 'audio' ? s.local.getAudioTracks()[0] : s.local.getVideoTracks()[0];
    if (!track) return;
    // Disabling the track sends silence / black frames: no renegotiation needed.
    track.enabled = !track.enabled;
    const btn = kind === 'audio' ? els.muteAudio : els.muteVideo;
    btn.setAttribute('aria-pressed', String(!track.enabled));
    btn.textContent = kind === 'audio' ? (track.enabled ? 'Mute microphone' : 'Unmute microphone') : track.enabled ? 'Turn camera off' : 'Turn camera on';
    const a = s.local.getAudioTracks()[0];
    const v = s.local.getVideoTracks()[0];
    send(s, { type: 'media', audio: Boolean(a && a.enabled), video: Boolean(v && v.enabled) });
    refreshVideoState(hooks.participantId);
  }

  function teardown(s) {
    s.ended = true;
    clearTimeout(s.iceRestartTimer);
    clearTimeout(s.resumeTimer);
    clearInterval(s.heartbeat);
    if (s.pc) s.pc.close();
    if (s.local) for (const t of s.local.getTracks()) t.stop();
    for (const t of tiles.values()) t.video.srcObject = null;
    tiles.clear();
    pendingStreams.clear();
    els.tiles.textContent = '';
    hooks.participants = [];
    hooks.activeSpeaker = null;
  }

  function leave(s, sayBye) {
    if (!s || s.ended) return;
    if (sayBye) {
      send(s, { type: 'leave' });
      // Away (resuming): say it on a socket of its own, or the node keeps us until its grace ends.
      if (s.resumeToken && !(s.ws && s.ws.readyState === WebSocket.OPEN)) leaveByResume(s);
    }
    teardown(s);
    if (s.ws && s.ws.readyState <= WebSocket.OPEN) s.ws.close(1000, 'left');
  }

  els.form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const alias = els.alias.value.trim();
    const name = els.name.value.trim();
    if (!alias || !name) return;
    // The PIN is never written into the address bar (history, screen shares).
    // The invitation's token (already in the link) and the diagnostics stay.
    const keep = `${SMALL_VIDEO ? '&video=small' : ''}${RELAY_ONLY ? '&relay=1' : ''}${INVITE_TOKEN ? `&token=${encodeURIComponent(INVITE_TOKEN)}` : ''}`;
    history.replaceState(null, '', `?alias=${encodeURIComponent(alias)}&name=${encodeURIComponent(name)}${keep}`);
    void join(alias, name, els.pin.value.trim());
  });
  els.muteAudio.addEventListener('click', () => toggle('audio'));
  els.muteVideo.addEventListener('click', () => toggle('video'));
  els.leave.addEventListener('click', () => {
    leave(session, true);
    setState('left');
  });
  els.rejoin.addEventListener('click', () => {
    if (session) void join(session.alias, session.name, session.pin);
  });
  window.addEventListener('pagehide', () => leave(session, true));

  hooks.join = join;
  hooks.leave = () => {
    leave(session, true);
    setState('left');
  };
  hooks.toggle = toggle;

  els.sipHint.textContent = `sip:ROOM@${location.hostname}`;
  fetch('/api/v1/status')
    .then((res) => (res.ok ? res.json() : null))
    .then((st) => {
      if (!st || !st.sip) return;
      const host = String(st.sip.address).includes(':') ? `[${st.sip.address}]` : st.sip.address;
      els.sipHint.textContent = `sip:ROOM@${host}:${st.sip.port}`;
    })
    .catch(() => undefined);
  const params = new URLSearchParams(location.search);
  const alias = (params.get('alias') || '').trim();
  // An invitation link's token names its holder: that name is shown, and the node uses it.
  const invitedAs = INVITE_TOKEN ? tokenName(INVITE_TOKEN) : '';
  const name = invitedAs || (params.get('name') || '').trim();
  // `&pin=` lets an invitation link carry the PIN; the field then shows it.
  const pin = (params.get('pin') || '').trim();
  if (alias) els.alias.value = alias;
  if (name) els.name.value = name;
  if (invitedAs) els.name.readOnly = true;
  if (pin) {
    els.pin.value = pin;
    els.pinLabel.hidden = false;
  }
  setState('idle');
  if (alias && name) void join(alias, name, pin);
  else (alias ? els.name : els.alias).focus();
})();
