export * from './types';
export { negotiateOffer, negotiateAnswer, parseSdp, answerDirection, describePayload, videoCodecMatches, type NegotiateOptions } from './negotiate';
export { buildAnswer, buildOffer } from './build';
export type { SdpOrigin, AnswerOptions, OfferOptions } from './build';
export { acceptableCrypto, decideSrtp, isSecureProfile } from './crypto';
