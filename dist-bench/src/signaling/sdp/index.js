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
exports.buildOffer = exports.buildAnswer = exports.describePayload = exports.answerDirection = exports.parseSdp = exports.negotiateAnswer = exports.negotiateOffer = void 0;
__exportStar(require("./types"), exports);
var negotiate_1 = require("./negotiate");
Object.defineProperty(exports, "negotiateOffer", { enumerable: true, get: function () { return negotiate_1.negotiateOffer; } });
Object.defineProperty(exports, "negotiateAnswer", { enumerable: true, get: function () { return negotiate_1.negotiateAnswer; } });
Object.defineProperty(exports, "parseSdp", { enumerable: true, get: function () { return negotiate_1.parseSdp; } });
Object.defineProperty(exports, "answerDirection", { enumerable: true, get: function () { return negotiate_1.answerDirection; } });
Object.defineProperty(exports, "describePayload", { enumerable: true, get: function () { return negotiate_1.describePayload; } });
var build_1 = require("./build");
Object.defineProperty(exports, "buildAnswer", { enumerable: true, get: function () { return build_1.buildAnswer; } });
Object.defineProperty(exports, "buildOffer", { enumerable: true, get: function () { return build_1.buildOffer; } });
//# sourceMappingURL=index.js.map