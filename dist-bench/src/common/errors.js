"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.ConfnodeError = void 0;
exports.sipStatusFor = sipStatusFor;
exports.errorMessage = errorMessage;
class ConfnodeError extends Error {
    code;
    constructor(code, message, options) {
        super(message, options);
        this.code = code;
        this.name = 'ConfnodeError';
    }
}
exports.ConfnodeError = ConfnodeError;
const SIP_STATUS = {
    'bad-request': { status: 400, reason: 'Bad Request' },
    'not-found': { status: 404, reason: 'Not Found' },
    'no-common-codec': { status: 488, reason: 'Not Acceptable Here' },
    capacity: { status: 503, reason: 'Service Unavailable', retryAfter: 30 },
    busy: { status: 486, reason: 'Busy Here' },
    timeout: { status: 408, reason: 'Request Timeout' },
    closed: { status: 481, reason: 'Call/Transaction Does Not Exist' },
    config: { status: 500, reason: 'Server Internal Error' },
    internal: { status: 500, reason: 'Server Internal Error' },
};
function sipStatusFor(err) {
    if (err instanceof ConfnodeError)
        return SIP_STATUS[err.code];
    return SIP_STATUS.internal;
}
function errorMessage(err) {
    return err instanceof Error ? err.message : String(err);
}
//# sourceMappingURL=errors.js.map