"use strict";
var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    var desc = Object.getOwnPropertyDescriptor(m, k);
    if (!desc || ("get" in desc ? !m.__esModule : desc.writable || desc.configurable)) {
      desc = { enumerable: true, get: function() { return m[k]; } };
    }
    Object.defineProperty(o, k2, desc);
}) : (function(o, m, k, k2) {
    if (k2 === undefined) k2 = k;
    o[k2] = m[k];
}));
var __exportStar = (this && this.__exportStar) || function(m, exports) {
    for (var p in m) if (p !== "default" && !Object.prototype.hasOwnProperty.call(exports, p)) __createBinding(exports, m, p);
};
Object.defineProperty(exports, "__esModule", { value: true });
exports.NodeMetrics = exports.startHttpServer = void 0;
var server_1 = require("./server");
Object.defineProperty(exports, "startHttpServer", { enumerable: true, get: function () { return server_1.startHttpServer; } });
var metrics_1 = require("./metrics");
Object.defineProperty(exports, "NodeMetrics", { enumerable: true, get: function () { return metrics_1.NodeMetrics; } });
__exportStar(require("./views"), exports);
//# sourceMappingURL=index.js.map