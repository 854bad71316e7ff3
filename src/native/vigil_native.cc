// vigil_native: thin Linux syscalls for vigil (sockets, readiness, timers, scheduling).
//
// Every function maps to one syscall (or a libc wrapper of one). All protocol logic —
// sockaddr and control-message layouts, IP header parsing, VRRP — stays in TypeScript
// (src/native/index.ts, src/net/*.ts). Failures throw a JS Error carrying `errno`
// (positive Linux errno), `code` ('EPERM', ...) and `syscall`.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>

#ifdef __GLIBC__
#include <malloc.h>
#endif

// src/native/hmac.cc: HMAC-SHA256 for the quorum heartbeat.
void VigilInitHmac(Napi::Env env, Napi::Object exports);

namespace {

Napi::Error ErrnoError(Napi::Env env, const char* syscall, int err) {
  char name[64];
  uv_err_name_r(-err, name, sizeof name);
  Napi::Error e = Napi::Error::New(env, std::string(syscall) + " " + name + " (" + strerror(err) + ")");
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, name));
  e.Set("syscall", Napi::String::New(env, syscall));
  return e;
}

Napi::Value ThrowErrno(Napi::Env env, const char* syscall, int err) {
  ErrnoError(env, syscall, err).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool IntArg(const Napi::CallbackInfo& info, size_t i, int* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *out = info[i].As<Napi::Number>().Int32Value();
  return true;
}

// A Buffer or any Uint8Array.
bool BytesArg(const Napi::CallbackInfo& info, size_t i, uint8_t** data, size_t* length) {
  if (info.Length() <= i || !info[i].IsTypedArray()) return false;
  Napi::TypedArray array = info[i].As<Napi::TypedArray>();
  if (array.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array bytes = info[i].As<Napi::Uint8Array>();
  *data = bytes.Data();
  *length = bytes.ElementLength();
  return true;
}

// socket(domain, type, protocol) -> fd; always non-blocking and close-on-exec.
Napi::Value Socket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int domain, type, protocol;
  if (!IntArg(info, 0, &domain) || !IntArg(info, 1, &type) || !IntArg(info, 2, &protocol)) {
    return ThrowType(env, "socket(domain, type, protocol): numbers expected");
  }
  int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return ThrowErrno(env, "socket", errno);
  return Napi::Number::New(env, fd);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!IntArg(info, 0, &fd)) return ThrowType(env, "close(fd): number expected");
  // Linux releases the descriptor even when close() reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) return ThrowErrno(env, "close", errno);
  return env.Undefined();
}

Napi::Value Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* addr;
  size_t length;
  if (!IntArg(info, 0, &fd) || !BytesArg(info, 1, &addr, &length)) {
    return ThrowType(env, "bind(fd, sockaddr): number and Buffer expected");
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(addr), static_cast<socklen_t>(length)) < 0) {
    return ThrowErrno(env, "bind", errno);
  }
  return env.Undefined();
}

// setsockopt(fd, level, name, value): a number is an int option, a Buffer is passed as is.
Napi::Value Setsockopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name, number;
  uint8_t* data;
  size_t length;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &level) || !IntArg(info, 2, &name)) {
    return ThrowType(env, "setsockopt(fd, level, name, value): numbers expected");
  }
  int rc;
  if (IntArg(info, 3, &number)) {
    rc = setsockopt(fd, level, name, &number, sizeof number);
  } else if (BytesArg(info, 3, &data, &length)) {
    rc = setsockopt(fd, level, name, data, static_cast<socklen_t>(length));
  } else {
    return ThrowType(env, "setsockopt: value must be a number or a Buffer");
  }
  if (rc < 0) return ThrowErrno(env, "setsockopt", errno);
  return env.Undefined();
}

Napi::Value GetsockoptInt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, level, name;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &level) || !IntArg(info, 2, &name)) {
    return ThrowType(env, "getsockoptInt(fd, level, name): numbers expected");
  }
  int value = 0;
  socklen_t length = sizeof value;
  if (getsockopt(fd, level, name, &value, &length) < 0) return ThrowErrno(env, "getsockopt", errno);
  return Napi::Number::New(env, value);
}

// sendto(fd, data, sockaddr | null) -> bytes sent.
Napi::Value Sendto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t* data;
  size_t length;
  uint8_t* addr = nullptr;
  size_t addrLength = 0;
  if (!IntArg(info, 0, &fd) || !BytesArg(info, 1, &data, &length)) {
    return ThrowType(env, "sendto(fd, data, sockaddr): number and Buffer expected");
  }
  if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined() && !BytesArg(info, 2, &addr, &addrLength)) {
    return ThrowType(env, "sendto: sockaddr must be a Buffer or null");
  }
  ssize_t n;
  do {
    n = sendto(fd, data, length, MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(addr), static_cast<socklen_t>(addrLength));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return ThrowErrno(env, "sendto", errno);
  return Napi::Number::New(env, static_cast<double>(n));
}

// sendmmsgTo(fd, payloads: Uint8Array[], sockaddrs: Uint8Array[], start, end) -> count:
// payloads[start..end) to sockaddrs[start..end) in one sendmmsg(2) (at most 64 per call),
// in order. Returns how many went out; throws (errno) only when the first of them failed,
// so the caller retries from start + count and meets a later error on its own.
Napi::Value SendmmsgTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr int kMaxBatch = 64;
  int fd, start, end;
  if (!IntArg(info, 0, &fd) || info.Length() < 5 || !info[1].IsArray() || !info[2].IsArray() || !IntArg(info, 3, &start) ||
      !IntArg(info, 4, &end) || start < 0 || end < start) {
    return ThrowType(env, "sendmmsgTo(fd, payloads, sockaddrs, start, end): arrays of Buffers and a range expected");
  }
  Napi::Array payloads = info[1].As<Napi::Array>();
  Napi::Array addrs = info[2].As<Napi::Array>();
  if (static_cast<uint32_t>(end) > payloads.Length() || static_cast<uint32_t>(end) > addrs.Length()) {
    return ThrowType(env, "sendmmsgTo: the range is past the arrays");
  }
  int n = end - start;
  if (n > kMaxBatch) n = kMaxBatch;
  if (n == 0) return Napi::Number::New(env, 0);
  mmsghdr msgs[kMaxBatch];
  iovec iov[kMaxBatch];
  for (int i = 0; i < n; i++) {
    Napi::Value p = payloads[static_cast<uint32_t>(start + i)];
    Napi::Value a = addrs[static_cast<uint32_t>(start + i)];
    if (!p.IsTypedArray() || p.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !a.IsTypedArray() ||
        a.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      return ThrowType(env, "sendmmsgTo: payloads and sockaddrs must be Buffers");
    }
    Napi::Uint8Array pb = p.As<Napi::Uint8Array>();
    Napi::Uint8Array ab = a.As<Napi::Uint8Array>();
    iov[i] = iovec{pb.Data(), pb.ElementLength()};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_name = ab.Data();
    msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(ab.ElementLength());
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int sent;
  do {
    sent = sendmmsg(fd, msgs, static_cast<unsigned int>(n), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return ThrowErrno(env, "sendmmsg", errno);
  return Napi::Number::New(env, sent);
}

// One recvmsg(2) with MSG_DONTWAIT; returns the byte count or -1 with errno set.
ssize_t ReceiveOnce(int fd, uint8_t* data, size_t dataLength, uint8_t* from, size_t fromLength, uint8_t* control,
                    size_t controlLength, msghdr* msg) {
  iovec iov{data, dataLength};
  *msg = msghdr{};
  msg->msg_name = from;
  msg->msg_namelen = static_cast<socklen_t>(fromLength);
  msg->msg_iov = &iov;
  msg->msg_iovlen = 1;
  msg->msg_control = controlLength > 0 ? control : nullptr;
  msg->msg_controllen = controlLength;
  ssize_t n;
  do {
    n = recvmsg(fd, msg, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

// recvmsg(fd, maxData, maxControl) -> { data, from, control, flags } | null (nothing pending).
Napi::Value Recvmsg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, maxData, maxControl;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &maxData) || !IntArg(info, 2, &maxControl) || maxData < 0 ||
      maxControl < 0) {
    return ThrowType(env, "recvmsg(fd, maxData, maxControl): non-negative numbers expected");
  }
  static thread_local std::vector<uint8_t> data, control;
  data.resize(static_cast<size_t>(maxData) + 1);
  control.resize(static_cast<size_t>(maxControl) + 1);
  sockaddr_storage from{};
  msghdr msg;
  ssize_t n = ReceiveOnce(fd, data.data(), static_cast<size_t>(maxData), reinterpret_cast<uint8_t*>(&from), sizeof from,
                          control.data(), static_cast<size_t>(maxControl), &msg);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return ThrowErrno(env, "recvmsg", errno);
  }
  size_t fromLength = msg.msg_namelen < sizeof from ? msg.msg_namelen : sizeof from;
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", Napi::Buffer<uint8_t>::Copy(env, data.data(), static_cast<size_t>(n)));
  result.Set("from", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t*>(&from), fromLength));
  result.Set("control", Napi::Buffer<uint8_t>::Copy(env, control.data(), msg.msg_controllen));
  result.Set("flags", Napi::Number::New(env, msg.msg_flags));
  return result;
}

// recvmsgInto(fd, data, from, control, out: Int32Array(4)) -> boolean: the allocation-free
// form. Fills out with [dataLength, fromLength, controlLength, flags]; false when nothing
// is pending.
Napi::Value RecvmsgInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  uint8_t *data, *from, *control;
  size_t dataLength, fromLength, controlLength;
  if (!IntArg(info, 0, &fd) || !BytesArg(info, 1, &data, &dataLength) || !BytesArg(info, 2, &from, &fromLength) ||
      !BytesArg(info, 3, &control, &controlLength) || info.Length() < 5 || !info[4].IsTypedArray() ||
      info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      info[4].As<Napi::Int32Array>().ElementLength() < 4) {
    return ThrowType(env, "recvmsgInto(fd, data, from, control, out): Buffers and an Int32Array(4) expected");
  }
  msghdr msg;
  ssize_t n = ReceiveOnce(fd, data, dataLength, from, fromLength, control, controlLength, &msg);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    return ThrowErrno(env, "recvmsg", errno);
  }
  int32_t* out = info[4].As<Napi::Int32Array>().Data();
  out[0] = static_cast<int32_t>(n);
  out[1] = static_cast<int32_t>(msg.msg_namelen);
  out[2] = static_cast<int32_t>(msg.msg_controllen);
  out[3] = msg.msg_flags;
  return Napi::Boolean::New(env, true);
}

// recvmmsgInto(fd, data, dataSlot, from, fromSlot, control, controlSlot, out: Int32Array(4 * n))
// -> count: up to n = out.length / 4 datagrams in one recvmmsg(2) with MSG_DONTWAIT, the
// i-th into data[i * dataSlot ...], from[i * fromSlot ...], control[i * controlSlot ...],
// its [dataLength, fromLength, controlLength, flags] at out[4 * i ...]. 0 when nothing is
// pending. The batch form of recvmsgInto: one syscall and one call from JS for a burst.
Napi::Value RecvmmsgInto(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr size_t kMaxBatch = 64;
  int fd, dataSlot, fromSlot, controlSlot;
  uint8_t *data, *from, *control;
  size_t dataLength, fromLength, controlLength;
  if (!IntArg(info, 0, &fd) || !BytesArg(info, 1, &data, &dataLength) || !IntArg(info, 2, &dataSlot) ||
      !BytesArg(info, 3, &from, &fromLength) || !IntArg(info, 4, &fromSlot) ||
      !BytesArg(info, 5, &control, &controlLength) || !IntArg(info, 6, &controlSlot) || info.Length() < 8 ||
      !info[7].IsTypedArray() || info[7].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      dataSlot <= 0 || fromSlot < 0 || controlSlot < 0) {
    return ThrowType(env, "recvmmsgInto(fd, data, dataSlot, from, fromSlot, control, controlSlot, out): Buffers, slot sizes and an Int32Array expected");
  }
  Napi::Int32Array outArray = info[7].As<Napi::Int32Array>();
  size_t n = outArray.ElementLength() / 4;
  if (n > kMaxBatch) n = kMaxBatch;
  if (n * static_cast<size_t>(dataSlot) > dataLength || n * static_cast<size_t>(fromSlot) > fromLength ||
      n * static_cast<size_t>(controlSlot) > controlLength) {
    return ThrowType(env, "recvmmsgInto: the buffers are shorter than out.length / 4 slots");
  }
  if (n == 0) return Napi::Number::New(env, 0);
  mmsghdr msgs[kMaxBatch];
  iovec iov[kMaxBatch];
  for (size_t i = 0; i < n; i++) {
    iov[i] = iovec{data + i * dataSlot, static_cast<size_t>(dataSlot)};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_name = fromSlot > 0 ? from + i * fromSlot : nullptr;
    msgs[i].msg_hdr.msg_namelen = static_cast<socklen_t>(fromSlot);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_control = controlSlot > 0 ? control + i * controlSlot : nullptr;
    msgs[i].msg_hdr.msg_controllen = static_cast<size_t>(controlSlot);
  }
  int got;
  do {
    got = recvmmsg(fd, msgs, static_cast<unsigned int>(n), MSG_DONTWAIT, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, 0);
    return ThrowErrno(env, "recvmmsg", errno);
  }
  int32_t* out = outArray.Data();
  for (int i = 0; i < got; i++) {
    out[4 * i] = static_cast<int32_t>(msgs[i].msg_len);
    out[4 * i + 1] = static_cast<int32_t>(msgs[i].msg_hdr.msg_namelen);
    out[4 * i + 2] = static_cast<int32_t>(msgs[i].msg_hdr.msg_controllen);
    out[4 * i + 3] = msgs[i].msg_hdr.msg_flags;
  }
  return Napi::Number::New(env, got);
}

// Readiness through a uv_poll_t on Node's own loop: no thread, no busy polling.
// The Poll is freed once both the handle is closed and the JS handle object is collected.
struct Poll {
  uv_poll_t handle;
  napi_env env;
  napi_ref callback = nullptr;
  napi_async_context context = nullptr;
  bool stopped = false;
  bool closed = false;
  bool collected = false;
};

void OnPollClosed(uv_handle_t* handle) {
  Poll* poll = static_cast<Poll*>(handle->data);
  poll->closed = true;
  if (poll->collected) delete poll;
}

void OnPollCollected(napi_env, void* data, void*) {
  Poll* poll = static_cast<Poll*>(data);
  poll->collected = true;
  // A poll nobody stopped keeps running (like an unreferenced server); freed once closed.
  if (poll->closed) delete poll;
}

void OnPollEvent(uv_poll_t* handle, int status, int) {
  Poll* poll = static_cast<Poll*>(handle->data);
  if (poll->stopped) return;
  if (status == UV_EBADF) {
    // libuv reports EPOLLERR as EBADF and stops the handle. On a socket EPOLLERR means
    // a pending socket error (a netlink ENOBUFS overrun, an ICMP error with IP_RECVERR),
    // not a bad descriptor: read and clear it (SO_ERROR), pass it on, and keep polling.
    uv_os_fd_t fd;
    int pending = 0;
    socklen_t length = sizeof pending;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(handle), &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &length) == 0 &&
        uv_poll_start(handle, UV_READABLE, OnPollEvent) == 0) {
      status = pending == 0 ? 0 : -pending;
    }
  }
  napi_env env = poll->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value callback, receiver, result;
  napi_value argv[1];
  size_t argc = 0;
  napi_get_reference_value(env, poll->callback, &callback);
  // napi_make_callback converts the receiver with ToObject: undefined would throw.
  napi_get_global(env, &receiver);
  if (status < 0) {
    // libuv stops the handle after an error: tell JS, which owns the recovery.
    argv[0] = ErrnoError(env, "poll", -status).Value();
    argc = 1;
  }
  if (napi_make_callback(env, poll->context, receiver, callback, argc, argv, &result) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);  // 'uncaughtException', as for any I/O callback
    }
  }
  napi_close_handle_scope(env, scope);
}

void StopPoll(Poll* poll) {
  if (poll->stopped) return;
  poll->stopped = true;
  uv_poll_stop(&poll->handle);
  napi_delete_reference(poll->env, poll->callback);
  poll->callback = nullptr;
  napi_async_destroy(poll->env, poll->context);
  poll->context = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle), OnPollClosed);
}

Napi::Value PollStop(const Napi::CallbackInfo& info) {
  StopPoll(static_cast<Poll*>(info.Data()));
  return info.Env().Undefined();
}

// poll(fd, callback) -> { stop() }: calls callback() whenever fd is readable,
// callback(error) once if polling fails.
Napi::Value PollStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!IntArg(info, 0, &fd) || info.Length() < 2 || !info[1].IsFunction()) {
    return ThrowType(env, "poll(fd, callback): number and function expected");
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return ThrowType(env, "poll: no event loop");
  Poll* poll = new Poll();
  poll->env = env;
  int rc = uv_poll_init(loop, &poll->handle, fd);
  if (rc < 0) {
    delete poll;
    return ThrowErrno(env, "uv_poll_init", -rc);
  }
  poll->handle.data = poll;
  rc = uv_poll_start(&poll->handle, UV_READABLE, OnPollEvent);
  if (rc < 0) {
    poll->stopped = true;
    poll->collected = true;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll->handle), OnPollClosed);
    return ThrowErrno(env, "uv_poll_start", -rc);
  }
  napi_create_reference(env, info[1], 1, &poll->callback);
  napi_async_init(env, nullptr, Napi::String::New(env, "vigil:poll"), &poll->context);
  Napi::Object handle = Napi::Object::New(env);
  handle.Set("stop", Napi::Function::New(env, PollStop, "stop", poll));
  napi_add_finalizer(env, handle, poll, OnPollCollected, nullptr, nullptr);
  return handle;
}

// timerfdCreate() -> fd: a CLOCK_MONOTONIC timerfd(2), non-blocking and close-on-exec.
// CLOCK_MONOTONIC is the clock of process.hrtime (libuv's uv_hrtime), so the daemon's
// monotonic milliseconds are this clock's nanoseconds / 1e6.
Napi::Value TimerfdCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, "timerfd_create", errno);
  return Napi::Number::New(env, fd);
}

// timerfdSet(fd, deadlineMs | null): arms the timer for the absolute CLOCK_MONOTONIC time
// deadlineMs (TFD_TIMER_ABSTIME, one shot; rounded up to the nanosecond so it never fires
// before the deadline; a deadline already past fires at once), or disarms it for null.
Napi::Value TimerfdSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!IntArg(info, 0, &fd) || info.Length() < 2 || !(info[1].IsNumber() || info[1].IsNull())) {
    return ThrowType(env, "timerfdSet(fd, deadlineMs | null): number and number or null expected");
  }
  itimerspec spec{};
  if (info[1].IsNumber()) {
    double ms = info[1].As<Napi::Number>().DoubleValue();
    if (!std::isfinite(ms) || ms < 0) return ThrowType(env, "timerfdSet: deadlineMs must be a finite, non-negative number");
    double ns = std::ceil(ms * 1e6);
    long long total = static_cast<long long>(ns);
    if (total <= 0) total = 1;  // an all-zero it_value would disarm: the earliest time instead
    spec.it_value.tv_sec = static_cast<time_t>(total / 1000000000LL);
    spec.it_value.tv_nsec = static_cast<long>(total % 1000000000LL);
  }
  if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, nullptr) < 0) return ThrowErrno(env, "timerfd_settime", errno);
  return env.Undefined();
}

// timerfdRead(fd) -> expirations since the last read (0 when none: EAGAIN). Reading
// clears the descriptor's readiness.
Napi::Value TimerfdRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!IntArg(info, 0, &fd)) return ThrowType(env, "timerfdRead(fd): number expected");
  uint64_t expirations = 0;
  ssize_t n;
  do {
    n = read(fd, &expirations, sizeof expirations);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, 0);
    return ThrowErrno(env, "read(timerfd)", errno);
  }
  return Napi::Number::New(env, static_cast<double>(expirations));
}

// realtimeToMonotonicMs(bytes, offset) -> the struct timespec at bytes[offset] (CLOCK_REALTIME,
// e.g. an SCM_TIMESTAMPNS receive timestamp: socket(7)) as ms on CLOCK_MONOTONIC (process.hrtime's
// clock): the timestamp minus the realtime-monotonic offset read now. Only a step of the
// realtime clock between the timestamp and this call can skew it. One Number out, nothing
// else allocated (the receive path calls it per packet).
Napi::Value RealtimeToMonotonicMs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t length;
  int offset;
  if (!BytesArg(info, 0, &data, &length) || !IntArg(info, 1, &offset) || offset < 0 ||
      static_cast<size_t>(offset) + sizeof(timespec) > length) {
    return ThrowType(env, "realtimeToMonotonicMs(bytes, offset): a Buffer holding a struct timespec at offset expected");
  }
  timespec stamp, mono, real;
  std::memcpy(&stamp, data + offset, sizeof stamp);
  if (clock_gettime(CLOCK_MONOTONIC, &mono) < 0 || clock_gettime(CLOCK_REALTIME, &real) < 0) {
    return ThrowErrno(env, "clock_gettime", errno);
  }
  // stamp - (real - mono), in whole seconds and nanoseconds first: no precision lost.
  double ms = static_cast<double>(stamp.tv_sec - real.tv_sec + mono.tv_sec) * 1e3 +
              static_cast<double>(stamp.tv_nsec - real.tv_nsec + mono.tv_nsec) / 1e6;
  return Napi::Number::New(env, ms);
}

Napi::Value IfNameToIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowType(env, "ifNameToIndex(name): string expected");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  unsigned index = if_nametoindex(name.c_str());
  if (index == 0) return ThrowErrno(env, "if_nametoindex", errno);
  return Napi::Number::New(env, index);
}

Napi::Value IfIndexToName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int index;
  if (!IntArg(info, 0, &index)) return ThrowType(env, "ifIndexToName(index): number expected");
  char name[IF_NAMESIZE];
  if (if_indextoname(static_cast<unsigned>(index), name) == nullptr) return ThrowErrno(env, "if_indextoname", errno);
  return Napi::String::New(env, name);
}

// setRealtime(priority): SCHED_RR at that priority, or SCHED_OTHER for 0.
// setRealtime(priority[, tid]): SCHED_RR at `priority` (0: back to SCHED_OTHER) for the
// calling thread, or for thread `tid` of this process (sched_setscheduler takes a TID).
Napi::Value SetRealtime(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int priority;
  int tid = 0;
  if (!IntArg(info, 0, &priority) || (info.Length() > 1 && !IntArg(info, 1, &tid))) {
    return ThrowType(env, "setRealtime(priority[, tid]): numbers expected");
  }
  sched_param param{};
  param.sched_priority = priority;
  if (sched_setscheduler(tid, priority > 0 ? SCHED_RR : SCHED_OTHER, &param) < 0) {
    return ThrowErrno(env, "sched_setscheduler", errno);
  }
  return env.Undefined();
}

// setns(fd, nstype): moves the calling (main) thread into a namespace, e.g. to open a
// socket in a network namespace; sockets keep the namespace they were created in.
Napi::Value Setns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd, nstype;
  if (!IntArg(info, 0, &fd) || !IntArg(info, 1, &nstype)) return ThrowType(env, "setns(fd, nstype): numbers expected");
  if (setns(fd, nstype) < 0) return ThrowErrno(env, "setns", errno);
  return env.Undefined();
}

// mallocTrim(): malloc_trim(3) with pad 0: glibc hands the free pages of every malloc
// arena back to the kernel, not only the top of the main heap as free() does past
// M_TRIM_THRESHOLD. True when memory was released; false without glibc.
Napi::Value MallocTrim(const Napi::CallbackInfo& info) {
#ifdef __GLIBC__
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

// The values the headers give, for src/native/index.ts to check its constants against.
Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
#define VIGIL_CONSTANT(name) c.Set(#name, Napi::Number::New(env, static_cast<double>(name)))
  VIGIL_CONSTANT(AF_UNIX); VIGIL_CONSTANT(AF_INET); VIGIL_CONSTANT(AF_INET6); VIGIL_CONSTANT(AF_NETLINK);
  VIGIL_CONSTANT(AF_PACKET); VIGIL_CONSTANT(SOCK_STREAM); VIGIL_CONSTANT(SOCK_DGRAM); VIGIL_CONSTANT(SOCK_RAW);
  VIGIL_CONSTANT(SOCK_NONBLOCK); VIGIL_CONSTANT(SOCK_CLOEXEC);
  VIGIL_CONSTANT(IPPROTO_IP); VIGIL_CONSTANT(IPPROTO_ICMP); VIGIL_CONSTANT(IPPROTO_TCP); VIGIL_CONSTANT(IPPROTO_UDP);
  VIGIL_CONSTANT(IPPROTO_IPV6); VIGIL_CONSTANT(IPPROTO_ICMPV6); VIGIL_CONSTANT(IPPROTO_RAW);
  VIGIL_CONSTANT(SOL_SOCKET); VIGIL_CONSTANT(SO_REUSEADDR); VIGIL_CONSTANT(SO_TYPE); VIGIL_CONSTANT(SO_ERROR);
  VIGIL_CONSTANT(SO_SNDBUF); VIGIL_CONSTANT(SO_RCVBUF); VIGIL_CONSTANT(SO_PRIORITY); VIGIL_CONSTANT(SO_BINDTODEVICE);
  VIGIL_CONSTANT(SO_PASSCRED); VIGIL_CONSTANT(SO_TIMESTAMPNS); VIGIL_CONSTANT(SCM_TIMESTAMPNS);
  VIGIL_CONSTANT(IP_TOS); VIGIL_CONSTANT(IP_TTL); VIGIL_CONSTANT(IP_HDRINCL); VIGIL_CONSTANT(IP_PKTINFO);
  VIGIL_CONSTANT(IP_RECVTTL); VIGIL_CONSTANT(IP_RECVERR); VIGIL_CONSTANT(IP_FREEBIND); VIGIL_CONSTANT(IP_TRANSPARENT);
  VIGIL_CONSTANT(IP_MULTICAST_IF); VIGIL_CONSTANT(IP_MULTICAST_TTL); VIGIL_CONSTANT(IP_MULTICAST_LOOP);
  VIGIL_CONSTANT(IP_ADD_MEMBERSHIP); VIGIL_CONSTANT(IP_DROP_MEMBERSHIP); VIGIL_CONSTANT(IP_MULTICAST_ALL);
  VIGIL_CONSTANT(IPV6_CHECKSUM); VIGIL_CONSTANT(IPV6_UNICAST_HOPS); VIGIL_CONSTANT(IPV6_MULTICAST_IF);
  VIGIL_CONSTANT(IPV6_MULTICAST_HOPS); VIGIL_CONSTANT(IPV6_MULTICAST_LOOP); VIGIL_CONSTANT(IPV6_ADD_MEMBERSHIP);
  VIGIL_CONSTANT(IPV6_DROP_MEMBERSHIP); VIGIL_CONSTANT(IPV6_V6ONLY); VIGIL_CONSTANT(IPV6_MULTICAST_ALL);
  VIGIL_CONSTANT(IPV6_RECVPKTINFO); VIGIL_CONSTANT(IPV6_PKTINFO); VIGIL_CONSTANT(IPV6_RECVHOPLIMIT);
  VIGIL_CONSTANT(IPV6_HOPLIMIT); VIGIL_CONSTANT(IPV6_RECVTCLASS); VIGIL_CONSTANT(IPV6_TCLASS);
  VIGIL_CONSTANT(IPV6_FREEBIND); VIGIL_CONSTANT(IPV6_TRANSPARENT);
  VIGIL_CONSTANT(SOL_PACKET); VIGIL_CONSTANT(PACKET_ADD_MEMBERSHIP); VIGIL_CONSTANT(PACKET_HOST);
  VIGIL_CONSTANT(PACKET_BROADCAST); VIGIL_CONSTANT(PACKET_MULTICAST); VIGIL_CONSTANT(PACKET_OTHERHOST);
  VIGIL_CONSTANT(PACKET_OUTGOING);
  VIGIL_CONSTANT(ETH_P_ALL); VIGIL_CONSTANT(ETH_P_IP); VIGIL_CONSTANT(ETH_P_ARP); VIGIL_CONSTANT(ETH_P_IPV6);
  VIGIL_CONSTANT(NETLINK_ROUTE); VIGIL_CONSTANT(MSG_TRUNC); VIGIL_CONSTANT(MSG_CTRUNC); VIGIL_CONSTANT(MSG_DONTWAIT);
  VIGIL_CONSTANT(CLONE_NEWNET); VIGIL_CONSTANT(SCHED_OTHER); VIGIL_CONSTANT(SCHED_RR); VIGIL_CONSTANT(IF_NAMESIZE);
#undef VIGIL_CONSTANT
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("socket", Napi::Function::New(env, Socket, "socket"));
  exports.Set("close", Napi::Function::New(env, Close, "close"));
  exports.Set("bind", Napi::Function::New(env, Bind, "bind"));
  exports.Set("setsockopt", Napi::Function::New(env, Setsockopt, "setsockopt"));
  exports.Set("getsockoptInt", Napi::Function::New(env, GetsockoptInt, "getsockoptInt"));
  exports.Set("sendto", Napi::Function::New(env, Sendto, "sendto"));
  exports.Set("sendmmsgTo", Napi::Function::New(env, SendmmsgTo, "sendmmsgTo"));
  exports.Set("recvmsg", Napi::Function::New(env, Recvmsg, "recvmsg"));
  exports.Set("recvmsgInto", Napi::Function::New(env, RecvmsgInto, "recvmsgInto"));
  exports.Set("recvmmsgInto", Napi::Function::New(env, RecvmmsgInto, "recvmmsgInto"));
  exports.Set("poll", Napi::Function::New(env, PollStart, "poll"));
  exports.Set("timerfdCreate", Napi::Function::New(env, TimerfdCreate, "timerfdCreate"));
  exports.Set("timerfdSet", Napi::Function::New(env, TimerfdSet, "timerfdSet"));
  exports.Set("timerfdRead", Napi::Function::New(env, TimerfdRead, "timerfdRead"));
  exports.Set("realtimeToMonotonicMs", Napi::Function::New(env, RealtimeToMonotonicMs, "realtimeToMonotonicMs"));
  exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex, "ifNameToIndex"));
  exports.Set("ifIndexToName", Napi::Function::New(env, IfIndexToName, "ifIndexToName"));
  exports.Set("setRealtime", Napi::Function::New(env, SetRealtime, "setRealtime"));
  exports.Set("setns", Napi::Function::New(env, Setns, "setns"));
  exports.Set("mallocTrim", Napi::Function::New(env, MallocTrim, "mallocTrim"));
  exports.Set("constants", Constants(env));
  VigilInitHmac(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vigil_native, Init)
