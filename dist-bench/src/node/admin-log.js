"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.AdminLog = void 0;
class AdminLog {
    logger;
    limit;
    now;
    entries = [];
    constructor(logger, limit = 1000, now = () => new Date()) {
        this.logger = logger;
        this.limit = limit;
        this.now = now;
    }
    add(level, message, fields = {}) {
        const entry = { time: this.now().toISOString(), level, message, ...fields };
        this.entries.push(entry);
        if (this.entries.length > this.limit)
            this.entries.splice(0, this.entries.length - this.limit);
        this.logger[level]({ admin: true, ...fields }, message);
    }
    list() {
        return [...this.entries];
    }
}
exports.AdminLog = AdminLog;
//# sourceMappingURL=admin-log.js.map