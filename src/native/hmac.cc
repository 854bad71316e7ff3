// HMAC-SHA256 for the quorum heartbeat (src/quorum/io/hmac.ts), on the OpenSSL that Node
// exports to addons (the headers under node-gyp's include/node, the symbols from the node
// binary). node:crypto's createHmac costs a JS object, a native context and an OpenSSL 3
// provider fetch per message; here the key is prepared once (hmacSha256Key) and each
// message costs two SHA-256 compressions into a caller's buffer, with nothing allocated.
//
// RFC 2104 §2: HMAC(K, text) = H(K XOR opad, H(K XOR ipad, text)), B = 64 (SHA-256's block),
// ipad = 0x36 and opad = 0x5C repeated B times; a key longer than B is first hashed
// ("Applications that use keys longer than B bytes will first hash the key using H"), a
// shorter one padded with zeros to B. The hash states after the K XOR ipad and K XOR opad
// blocks depend on the key alone: they are what hmacSha256Key returns, as bytes the caller
// holds (two SHA256_CTX, plain structs), so the addon keeps no per-key state of its own.
//
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, whose per-message
// fetch is the cost this file removes; they remain exported and are the same implementation.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <napi.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

namespace {

constexpr size_t kBlock = 64;
constexpr size_t kDigest = SHA256_DIGEST_LENGTH;
constexpr size_t kState = 2 * sizeof(SHA256_CTX);

bool Bytes(const Napi::Value& v, uint8_t** data, size_t* length) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array bytes = v.As<Napi::Uint8Array>();
  *data = bytes.Data();
  *length = bytes.ElementLength();
  return true;
}

Napi::Value Throw(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// The HMAC of data under the prepared state, into mac (kDigest bytes).
void Compute(const uint8_t* state, const uint8_t* data, size_t length, uint8_t* mac) {
  SHA256_CTX ctx;
  uint8_t inner[kDigest];
  std::memcpy(&ctx, state, sizeof ctx);
  SHA256_Update(&ctx, data, length);
  SHA256_Final(inner, &ctx);
  std::memcpy(&ctx, state + sizeof(SHA256_CTX), sizeof ctx);
  SHA256_Update(&ctx, inner, sizeof inner);
  SHA256_Final(mac, &ctx);
  OPENSSL_cleanse(inner, sizeof inner);
  OPENSSL_cleanse(&ctx, sizeof ctx);
}

// hmacSha256Key(key) -> Buffer: the key's prepared state (RFC 2104 §2, see above).
Napi::Value Key(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* key;
  size_t length;
  if (info.Length() < 1 || !Bytes(info[0], &key, &length) || length == 0) {
    return Throw(env, "hmacSha256Key(key): a non-empty Uint8Array expected");
  }
  uint8_t block[kBlock] = {0};
  if (length > kBlock) {
    SHA256(key, length, block);
  } else {
    std::memcpy(block, key, length);
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, kState);
  uint8_t pad[kBlock];
  for (int half = 0; half < 2; half++) {
    const uint8_t x = half == 0 ? 0x36 : 0x5c;
    for (size_t i = 0; i < kBlock; i++) pad[i] = block[i] ^ x;
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, pad, kBlock);
    std::memcpy(out.Data() + half * sizeof(SHA256_CTX), &ctx, sizeof ctx);
    OPENSSL_cleanse(&ctx, sizeof ctx);
  }
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(block, sizeof block);
  return out;
}

bool StateArg(const Napi::CallbackInfo& info, uint8_t** state) {
  size_t length;
  return info.Length() > 0 && Bytes(info[0], state, &length) && length == kState;
}

// hmacSha256(state, data, out, offset): writes HMAC-SHA256(key, data) to out[offset, offset + 32).
Napi::Value Sign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *state, *data, *out;
  size_t length, outLength;
  if (!StateArg(info, &state) || info.Length() < 4 || !Bytes(info[1], &data, &length) || !Bytes(info[2], &out, &outLength) ||
      !info[3].IsNumber()) {
    return Throw(env, "hmacSha256(state, data, out, offset): a hmacSha256Key state, two Uint8Arrays and a number expected");
  }
  int64_t offset = info[3].As<Napi::Number>().Int64Value();
  if (offset < 0 || static_cast<uint64_t>(offset) + kDigest > outLength) return Throw(env, "hmacSha256: out has no room for 32 bytes at offset");
  Compute(state, data, length, out + offset);
  return env.Undefined();
}

// hmacSha256Verify(state, data, mac) -> boolean: whether mac (32 bytes) is HMAC-SHA256(key, data),
// compared in constant time (CRYPTO_memcmp).
Napi::Value Verify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t *state, *data, *mac;
  size_t length, macLength;
  if (!StateArg(info, &state) || info.Length() < 3 || !Bytes(info[1], &data, &length) || !Bytes(info[2], &mac, &macLength)) {
    return Throw(env, "hmacSha256Verify(state, data, mac): a hmacSha256Key state and two Uint8Arrays expected");
  }
  if (macLength != kDigest) return Napi::Boolean::New(env, false);
  uint8_t expected[kDigest];
  Compute(state, data, length, expected);
  bool ok = CRYPTO_memcmp(expected, mac, kDigest) == 0;
  OPENSSL_cleanse(expected, sizeof expected);
  return Napi::Boolean::New(env, ok);
}

}  // namespace

// Called from vigil_native.cc's Init.
void VigilInitHmac(Napi::Env env, Napi::Object exports) {
  exports.Set("hmacSha256Key", Napi::Function::New(env, Key, "hmacSha256Key"));
  exports.Set("hmacSha256", Napi::Function::New(env, Sign, "hmacSha256"));
  exports.Set("hmacSha256Verify", Napi::Function::New(env, Verify, "hmacSha256Verify"));
}
