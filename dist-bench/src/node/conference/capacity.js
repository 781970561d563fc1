"use strict";
/**
 * Capacity accounting (DESIGN.md section 1), pure: what a participant costs and whether the next
 * one fits. "Full" means the next participant's cost does not fit.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.participantCost = participantCost;
exports.fits = fits;
function participantCost(kind, costs) {
    return kind === 'video' ? costs.video : costs.audio;
}
/** Float-safe comparison: 4 x 0.25 must fit exactly into 1. */
function fits(load, cost, capacity) {
    return load + cost <= capacity + 1e-9;
}
//# sourceMappingURL=capacity.js.map