/*
 * Middleware options are described in src/config/schema/middlewares/ (one
 * schema per type, shared with validation, label decoding, JSON Schema and
 * the docs); a factory decodes its raw options with it here.
 */
export { decodeOptions } from '../src/config/schema/decode.js';
