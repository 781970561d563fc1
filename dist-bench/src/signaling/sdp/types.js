"use strict";
/**
 * SDP negotiation types shared by the SIP side and the node glue. Plain data, no I/O.
 */
Object.defineProperty(exports, "__esModule", { value: true });
//# sourceMappingURL=types.js.map