"use strict";
/**
 * The JSON shapes of the admin API and the `NodeApi` port the node implements to fill them.
 * Plain data only (strings, numbers, booleans, arrays): what the API sends is exactly these
 * objects serialised. No logic here and no imports of the node's internals.
 */
Object.defineProperty(exports, "__esModule", { value: true });
//# sourceMappingURL=views.js.map