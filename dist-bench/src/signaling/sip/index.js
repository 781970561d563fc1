"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.DEFAULT_PARSE_LIMITS = exports.DEFAULT_SIP_TIMERS = exports.ALLOWED_METHODS = exports.createSipServer = void 0;
/**
 * Public surface of the SIP stack: the UA server factory and the SessionHandler contract.
 * Other folders import SIP only through here; internals (transactions, transport) stay private.
 */
var ua_1 = require("./ua");
Object.defineProperty(exports, "createSipServer", { enumerable: true, get: function () { return ua_1.createSipServer; } });
Object.defineProperty(exports, "ALLOWED_METHODS", { enumerable: true, get: function () { return ua_1.ALLOWED_METHODS; } });
var timers_1 = require("./timers");
Object.defineProperty(exports, "DEFAULT_SIP_TIMERS", { enumerable: true, get: function () { return timers_1.DEFAULT_SIP_TIMERS; } });
var parser_1 = require("./parser");
Object.defineProperty(exports, "DEFAULT_PARSE_LIMITS", { enumerable: true, get: function () { return parser_1.DEFAULT_PARSE_LIMITS; } });
//# sourceMappingURL=index.js.map