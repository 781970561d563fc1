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
exports.findVmrByAlias = exports.selectNode = exports.defaultConfigInput = exports.defaultConfig = exports.ConfigError = exports.formatIssue = exports.formatPath = exports.parseYaml = exports.loadConfigFile = exports.parseConfig = void 0;
__exportStar(require("./schema"), exports);
var load_1 = require("./load");
Object.defineProperty(exports, "parseConfig", { enumerable: true, get: function () { return load_1.parseConfig; } });
Object.defineProperty(exports, "loadConfigFile", { enumerable: true, get: function () { return load_1.loadConfigFile; } });
Object.defineProperty(exports, "parseYaml", { enumerable: true, get: function () { return load_1.parseYaml; } });
Object.defineProperty(exports, "formatPath", { enumerable: true, get: function () { return load_1.formatPath; } });
Object.defineProperty(exports, "formatIssue", { enumerable: true, get: function () { return load_1.formatIssue; } });
Object.defineProperty(exports, "ConfigError", { enumerable: true, get: function () { return load_1.ConfigError; } });
var defaults_1 = require("./defaults");
Object.defineProperty(exports, "defaultConfig", { enumerable: true, get: function () { return defaults_1.defaultConfig; } });
Object.defineProperty(exports, "defaultConfigInput", { enumerable: true, get: function () { return defaults_1.defaultConfigInput; } });
var lookup_1 = require("./lookup");
Object.defineProperty(exports, "selectNode", { enumerable: true, get: function () { return lookup_1.selectNode; } });
Object.defineProperty(exports, "findVmrByAlias", { enumerable: true, get: function () { return lookup_1.findVmrByAlias; } });
//# sourceMappingURL=index.js.map