"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.asParticipantId = exports.asConferenceId = exports.asLocationId = exports.asNodeId = void 0;
const asNodeId = (s) => s;
exports.asNodeId = asNodeId;
const asLocationId = (s) => s;
exports.asLocationId = asLocationId;
const asConferenceId = (s) => s;
exports.asConferenceId = asConferenceId;
const asParticipantId = (s) => s;
exports.asParticipantId = asParticipantId;
//# sourceMappingURL=ids.js.map