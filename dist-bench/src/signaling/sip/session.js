"use strict";
/**
 * The port between the SIP user agent and whatever runs conferences (node/ implements it).
 * The SIP layer knows nothing of media, werift, etcd or other nodes: it hands SDP strings to the
 * handler and sends back what the handler returns. Errors thrown by the handler that are
 * ConfnodeError become SIP statuses through common/errors sipStatusFor().
 */
Object.defineProperty(exports, "__esModule", { value: true });
//# sourceMappingURL=session.js.map