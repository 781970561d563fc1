/*
 * srtp: keyed AES-CM + HMAC-SHA1 contexts for SRTP and SRTCP (RFC 3711, AES_CM_128_HMAC_SHA1_80
 * and _32), used by src/media/rtp/srtp-engine.ts under the SRTP contexts of browsers (WebRTC),
 * SDES-keyed SIP media and backplane links.
 *
 * Why native: from JavaScript, Node's crypto API makes a new cipher object per packet (an AES-CM
 * IV cannot be changed on a Cipheriv) and a new HMAC object per packet, about 10-15 us of a media
 * thread per packet once allocation and garbage are counted. Here the key schedule and the
 * HMAC's inner and outer SHA-1 states are computed once per session key; a packet costs one IV
 * reset, one AES-CTR pass and two SHA-1 finishes, no allocation. The crypto is OpenSSL's (the one
 * inside Node, whose symbols the addon binds to at load time: nothing is linked here), never our
 * own: this file only keeps keyed contexts and lays out the RFC 3711 IV and tag inputs.
 * Replay windows, ROC estimation and every policy stay in TypeScript (srtp.ts).
 *
 * API (all offsets and lengths are checked against the buffers; a bad call throws a TypeError,
 * bytes from the network never do):
 *   keys(cipherKey[16], salt[14], authKey[20]) -> handle (an external; freed by GC)
 *   seal(h, src, hl, end, dst, ssrc, high, low16, authEnd, roc, tagLen)
 *     dst[0,hl) = src[0,hl); dst[hl,end) = AES-CM(src[hl,end)) with IV(salt, ssrc, high, low16);
 *     then dst[authEnd, authEnd+tagLen) = HMAC-SHA1(dst[0,authEnd) || ROC if roc >= 0).
 *     Bytes of dst in [end, authEnd) (the SRTCP index) are written by the caller first.
 *   open(h, src, hl, end, authEnd, dst, ssrc, high, low16, roc, tagLen, decrypt) -> bool
 *     true when src[authEnd, +tagLen) is the tag of src[0,authEnd) || ROC (constant time);
 *     then dst[0,hl) = src[0,hl) and dst[hl,end) = decrypt ? AES-CM(src[hl,end)) : src[hl,end).
 *     On false, dst is untouched. dst may be src.
 *   verify(h, src, authEnd, roc, tagLen) -> bool   the tag check alone (first-ROC guesses)
 *   sealRtp(h, buf, start, hl, payload, roc, tagLen)
 *     one SRTP packet laid out at buf[start, ...): its header buf[start, start+hl) (written by the
 *     caller; SSRC and sequence number are read from it), then AES-CM(payload) written straight
 *     from `payload` (no copy of the plain payload first), then the tag of the header and the
 *     encrypted payload || ROC. `payload` may be exactly buf[start+hl, ...) (in place), never
 *     partly overlap it. The send path of a forwarded packet: one call, seven arguments.
 */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <node_api.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES 16
#define SALT_BYTES 14
#define AUTH_KEY_BYTES 20
#define SHA1_BLOCK 64
#define SHA1_BYTES 20

typedef struct {
  EVP_CIPHER_CTX *aes;
  uint8_t salt[SALT_BYTES];
  SHA_CTX inner; /* SHA-1 state after (authKey ^ ipad) */
  SHA_CTX outer; /* SHA-1 state after (authKey ^ opad) */
} srtp_keys;

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) {                                          \
      napi_throw_error(env, NULL, "srtp: N-API call failed: " #call); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static void keys_finalize(napi_env env, void *data, void *hint) {
  srtp_keys *k = (srtp_keys *)data;
  if (!k) return;
  if (k->aes) EVP_CIPHER_CTX_free(k->aes);
  OPENSSL_cleanse(k, sizeof(*k));
  free(k);
}

static bool get_buffer(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_buffer(env, v, &is) != napi_ok || !is) return false;
  void *p;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return false;
  *data = (uint8_t *)p;
  return true;
}

static bool get_u32(napi_env env, napi_value v, uint32_t *out) {
  return napi_get_value_uint32(env, v, out) == napi_ok;
}

static srtp_keys *get_keys(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return (srtp_keys *)p;
}

static napi_value js_keys(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint8_t *ck, *salt, *ak;
  size_t ckl, saltl, akl;
  if (argc < 3 || !get_buffer(env, argv[0], &ck, &ckl) || !get_buffer(env, argv[1], &salt, &saltl) ||
      !get_buffer(env, argv[2], &ak, &akl))
    return throw_type(env, "srtp.keys(cipherKey, salt, authKey): three Buffers");
  if (ckl != KEY_BYTES || saltl != SALT_BYTES || akl != AUTH_KEY_BYTES)
    return throw_type(env, "srtp.keys: a 16-byte cipher key, a 14-byte salt and a 20-byte auth key");
  srtp_keys *k = (srtp_keys *)calloc(1, sizeof(*k));
  if (!k) {
    napi_throw_error(env, NULL, "srtp.keys: out of memory");
    return NULL;
  }
  k->aes = EVP_CIPHER_CTX_new();
  if (!k->aes || EVP_EncryptInit_ex(k->aes, EVP_aes_128_ctr(), NULL, ck, NULL) != 1) {
    keys_finalize(env, k, NULL);
    napi_throw_error(env, NULL, "srtp.keys: OpenSSL refused the AES-128-CTR key");
    return NULL;
  }
  memcpy(k->salt, salt, SALT_BYTES);
  uint8_t pad[SHA1_BLOCK];
  memset(pad, 0x36, sizeof(pad));
  for (int i = 0; i < AUTH_KEY_BYTES; i++) pad[i] ^= ak[i];
  SHA1_Init(&k->inner);
  SHA1_Update(&k->inner, pad, sizeof(pad));
  memset(pad, 0x5c, sizeof(pad));
  for (int i = 0; i < AUTH_KEY_BYTES; i++) pad[i] ^= ak[i];
  SHA1_Init(&k->outer);
  SHA1_Update(&k->outer, pad, sizeof(pad));
  OPENSSL_cleanse(pad, sizeof(pad));
  napi_value out;
  if (napi_create_external(env, k, keys_finalize, NULL, &out) != napi_ok) {
    keys_finalize(env, k, NULL);
    napi_throw_error(env, NULL, "srtp.keys: napi_create_external failed");
    return NULL;
  }
  return out;
}

/* RFC 3711 4.1.1: IV = (salt << 16) XOR (SSRC << 64) XOR (index << 16), index = high || low16. */
static void write_iv(const srtp_keys *k, uint8_t iv[16], uint32_t ssrc, uint32_t high, uint32_t low16) {
  memcpy(iv, k->salt, SALT_BYTES);
  iv[14] = 0;
  iv[15] = 0;
  iv[4] ^= (uint8_t)(ssrc >> 24);
  iv[5] ^= (uint8_t)(ssrc >> 16);
  iv[6] ^= (uint8_t)(ssrc >> 8);
  iv[7] ^= (uint8_t)ssrc;
  iv[8] ^= (uint8_t)(high >> 24);
  iv[9] ^= (uint8_t)(high >> 16);
  iv[10] ^= (uint8_t)(high >> 8);
  iv[11] ^= (uint8_t)high;
  iv[12] ^= (uint8_t)(low16 >> 8);
  iv[13] ^= (uint8_t)low16;
}

static bool aes_cm(srtp_keys *k, const uint8_t *src, uint8_t *dst, size_t len, uint32_t ssrc, uint32_t high, uint32_t low16) {
  if (len == 0) return true;
  uint8_t iv[16];
  write_iv(k, iv, ssrc, high, low16);
  int outl = 0;
  if (EVP_EncryptInit_ex(k->aes, NULL, NULL, NULL, iv) != 1) return false;
  return EVP_EncryptUpdate(k->aes, dst, &outl, src, (int)len) == 1 && (size_t)outl == len;
}

static void hmac_tag(const srtp_keys *k, const uint8_t *data, size_t len, int64_t roc, uint8_t out[SHA1_BYTES]) {
  SHA_CTX c = k->inner;
  uint8_t ih[SHA1_BYTES];
  SHA1_Update(&c, data, len);
  if (roc >= 0) {
    uint8_t r[4] = {(uint8_t)(roc >> 24), (uint8_t)(roc >> 16), (uint8_t)(roc >> 8), (uint8_t)roc};
    SHA1_Update(&c, r, 4);
  }
  SHA1_Final(ih, &c);
  c = k->outer;
  SHA1_Update(&c, ih, SHA1_BYTES);
  SHA1_Final(out, &c);
}

/* roc argument: a JS number; -1 means "no ROC in the tag input" (SRTCP). */
static bool get_roc(napi_env env, napi_value v, int64_t *roc) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (d < 0) {
    *roc = -1;
    return true;
  }
  if (d > 4294967295.0) return false;
  *roc = (int64_t)d;
  return true;
}

static napi_value js_seal(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  srtp_keys *k;
  uint8_t *src, *dst;
  size_t srcl, dstl;
  uint32_t hl, end, ssrc, high, low16, authEnd, tagLen;
  int64_t roc;
  if (argc < 11 || !(k = get_keys(env, argv[0])) || !get_buffer(env, argv[1], &src, &srcl) || !get_u32(env, argv[2], &hl) ||
      !get_u32(env, argv[3], &end) || !get_buffer(env, argv[4], &dst, &dstl) || !get_u32(env, argv[5], &ssrc) ||
      !get_u32(env, argv[6], &high) || !get_u32(env, argv[7], &low16) || !get_u32(env, argv[8], &authEnd) ||
      !get_roc(env, argv[9], &roc) || !get_u32(env, argv[10], &tagLen))
    return throw_type(env, "srtp.seal(keys, src, hl, end, dst, ssrc, high, low16, authEnd, roc, tagLen)");
  if (hl > end || end > srcl || authEnd < end || tagLen > SHA1_BYTES || (size_t)authEnd + tagLen > dstl)
    return throw_type(env, "srtp.seal: offsets outside the buffers");
  if (dst != src) memmove(dst, src, hl);
  if (!aes_cm(k, src + hl, dst + hl, end - hl, ssrc, high, low16)) {
    napi_throw_error(env, NULL, "srtp.seal: AES-CTR failed");
    return NULL;
  }
  uint8_t tag[SHA1_BYTES];
  hmac_tag(k, dst, authEnd, roc, tag);
  memcpy(dst + authEnd, tag, tagLen);
  return NULL;
}

static bool tag_ok(const srtp_keys *k, const uint8_t *src, size_t authEnd, int64_t roc, size_t tagLen) {
  uint8_t tag[SHA1_BYTES];
  hmac_tag(k, src, authEnd, roc, tag);
  return CRYPTO_memcmp(tag, src + authEnd, tagLen) == 0;
}

static napi_value js_bool(napi_env env, bool b) {
  napi_value v;
  if (napi_get_boolean(env, b, &v) != napi_ok) return NULL;
  return v;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 12;
  napi_value argv[12];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  srtp_keys *k;
  uint8_t *src, *dst;
  size_t srcl, dstl;
  uint32_t hl, end, authEnd, ssrc, high, low16, tagLen;
  int64_t roc;
  bool decrypt;
  if (argc < 12 || !(k = get_keys(env, argv[0])) || !get_buffer(env, argv[1], &src, &srcl) || !get_u32(env, argv[2], &hl) ||
      !get_u32(env, argv[3], &end) || !get_u32(env, argv[4], &authEnd) || !get_buffer(env, argv[5], &dst, &dstl) ||
      !get_u32(env, argv[6], &ssrc) || !get_u32(env, argv[7], &high) || !get_u32(env, argv[8], &low16) ||
      !get_roc(env, argv[9], &roc) || !get_u32(env, argv[10], &tagLen) || napi_get_value_bool(env, argv[11], &decrypt) != napi_ok)
    return throw_type(env, "srtp.open(keys, src, hl, end, authEnd, dst, ssrc, high, low16, roc, tagLen, decrypt)");
  if (hl > end || authEnd < end || tagLen > SHA1_BYTES || (size_t)authEnd + tagLen > srcl || end > dstl)
    return throw_type(env, "srtp.open: offsets outside the buffers");
  if (!tag_ok(k, src, authEnd, roc, tagLen)) return js_bool(env, false);
  if (dst != src) memmove(dst, src, hl);
  if (decrypt) {
    if (!aes_cm(k, src + hl, dst + hl, end - hl, ssrc, high, low16)) {
      napi_throw_error(env, NULL, "srtp.open: AES-CTR failed");
      return NULL;
    }
  } else if (dst != src) {
    memmove(dst + hl, src + hl, end - hl);
  }
  return js_bool(env, true);
}

static napi_value js_verify(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  srtp_keys *k;
  uint8_t *src;
  size_t srcl;
  uint32_t authEnd, tagLen;
  int64_t roc;
  if (argc < 5 || !(k = get_keys(env, argv[0])) || !get_buffer(env, argv[1], &src, &srcl) || !get_u32(env, argv[2], &authEnd) ||
      !get_roc(env, argv[3], &roc) || !get_u32(env, argv[4], &tagLen))
    return throw_type(env, "srtp.verify(keys, src, authEnd, roc, tagLen)");
  if (tagLen > SHA1_BYTES || (size_t)authEnd + tagLen > srcl) return throw_type(env, "srtp.verify: offsets outside the buffer");
  return js_bool(env, tag_ok(k, src, authEnd, roc, tagLen));
}

static napi_value js_seal_rtp(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  srtp_keys *k;
  uint8_t *buf, *payload;
  size_t bufl, payloadl;
  uint32_t start, hl, tagLen;
  int64_t roc;
  if (argc < 7 || !(k = get_keys(env, argv[0])) || !get_buffer(env, argv[1], &buf, &bufl) || !get_u32(env, argv[2], &start) ||
      !get_u32(env, argv[3], &hl) || !get_buffer(env, argv[4], &payload, &payloadl) || !get_roc(env, argv[5], &roc) || roc < 0 ||
      !get_u32(env, argv[6], &tagLen))
    return throw_type(env, "srtp.sealRtp(keys, buf, start, hl, payload, roc, tagLen)");
  if (hl < 12 || tagLen > SHA1_BYTES || (uint64_t)start + hl + payloadl + tagLen > bufl)
    return throw_type(env, "srtp.sealRtp: offsets outside the buffer");
  uint8_t *pkt = buf + start;
  uint8_t *dst = pkt + hl;
  uintptr_t p0 = (uintptr_t)payload, d0 = (uintptr_t)dst;
  if (p0 != d0 && p0 < d0 + payloadl && d0 < p0 + payloadl)
    return throw_type(env, "srtp.sealRtp: the payload overlaps where it is written");
  uint32_t ssrc = ((uint32_t)pkt[8] << 24) | ((uint32_t)pkt[9] << 16) | ((uint32_t)pkt[10] << 8) | pkt[11];
  uint32_t seq = ((uint32_t)pkt[2] << 8) | pkt[3];
  if (!aes_cm(k, payload, dst, payloadl, ssrc, (uint32_t)roc, seq)) {
    napi_throw_error(env, NULL, "srtp.sealRtp: AES-CTR failed");
    return NULL;
  }
  uint8_t tag[SHA1_BYTES];
  hmac_tag(k, pkt, hl + payloadl, roc, tag);
  memcpy(dst + payloadl, tag, tagLen);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"keys", NULL, js_keys, NULL, NULL, NULL, napi_default, NULL},
      {"seal", NULL, js_seal, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"verify", NULL, js_verify, NULL, NULL, NULL, napi_default, NULL},
      {"sealRtp", NULL, js_seal_rtp, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
