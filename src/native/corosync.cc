// vigil_corosync: the corosync 3 client libraries (libvotequorum, libcmap) for
// quorum.provider corosync (src/quorum/corosync.ts, src/daemon/corosync-quorum.ts).
//
// Built only where their -dev packages are installed (binding.gyp). No thread and no
// callback into JS from C: the TypeScript side polls the votequorum descriptor on Node's
// own loop (the main addon's uv_poll) and calls dispatch(), which runs
// votequorum_dispatch(CS_DISPATCH_ALL) and returns the notifications that arrived as
// plain objects. Every other call is one synchronous library call (IPC to the local
// corosync). Failures throw a JS Error carrying `cs` (the cs_error_t), `code`
// ('CS_ERR_LIBRARY', ...) and `call`.
#include <napi.h>

#include <corosync/cmap.h>
#include <corosync/corotypes.h>
#include <corosync/votequorum.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

const char* CsName(cs_error_t err) {
  switch (err) {
    case CS_OK: return "CS_OK";
    case CS_ERR_LIBRARY: return "CS_ERR_LIBRARY";
    case CS_ERR_VERSION: return "CS_ERR_VERSION";
    case CS_ERR_INIT: return "CS_ERR_INIT";
    case CS_ERR_TIMEOUT: return "CS_ERR_TIMEOUT";
    case CS_ERR_TRY_AGAIN: return "CS_ERR_TRY_AGAIN";
    case CS_ERR_INVALID_PARAM: return "CS_ERR_INVALID_PARAM";
    case CS_ERR_NO_MEMORY: return "CS_ERR_NO_MEMORY";
    case CS_ERR_BAD_HANDLE: return "CS_ERR_BAD_HANDLE";
    case CS_ERR_BUSY: return "CS_ERR_BUSY";
    case CS_ERR_ACCESS: return "CS_ERR_ACCESS";
    case CS_ERR_NOT_EXIST: return "CS_ERR_NOT_EXIST";
    case CS_ERR_EXIST: return "CS_ERR_EXIST";
    case CS_ERR_NOT_SUPPORTED: return "CS_ERR_NOT_SUPPORTED";
    case CS_ERR_SECURITY: return "CS_ERR_SECURITY";
    default: return "CS_ERR_OTHER";
  }
}

Napi::Value ThrowCs(Napi::Env env, const char* call, cs_error_t err) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + ": " + CsName(err) + " (" + cs_strerror(err) + ")");
  e.Set("cs", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, CsName(err)));
  e.Set("call", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// One notification from votequorum_dispatch, kept until dispatch() returns it.
struct Notification {
  enum Kind { kQuorum, kNodelist, kExpected };
  explicit Notification(Kind k) : kind(k) {}
  Kind kind;
  bool quorate = false;
  uint32_t expected = 0;
  uint32_t ringNode = 0;
  uint64_t ringSeq = 0;
  std::vector<std::pair<uint32_t, uint32_t>> nodes;  // (nodeid, state); state 0 for nodelist
};

struct Connection {
  votequorum_handle_t vq = 0;
  cmap_handle_t cmap = 0;
  bool vqOpen = false;
  bool cmapOpen = false;
  std::vector<Notification> pending;
};

std::map<uint32_t, Connection*> connections;
uint32_t nextId = 1;

Connection* FromContext(votequorum_handle_t handle) {
  void* context = nullptr;
  if (votequorum_context_get(handle, &context) != CS_OK) return nullptr;
  return static_cast<Connection*>(context);
}

// votequorum(5): "quorum notification ... called when the quorate state or the membership changes".
void OnQuorum(votequorum_handle_t handle, uint64_t, uint32_t quorate, uint32_t entries, votequorum_node_t nodes[]) {
  Connection* c = FromContext(handle);
  if (c == nullptr) return;
  Notification n(Notification::kQuorum);
  n.quorate = quorate != 0;
  for (uint32_t i = 0; i < entries; i++) n.nodes.emplace_back(nodes[i].nodeid, nodes[i].state);
  c->pending.push_back(std::move(n));
}

void OnNodelist(votequorum_handle_t handle, uint64_t, votequorum_ring_id_t ring, uint32_t entries, uint32_t nodes[]) {
  Connection* c = FromContext(handle);
  if (c == nullptr) return;
  Notification n(Notification::kNodelist);
  n.ringNode = ring.nodeid;
  n.ringSeq = ring.seq;
  for (uint32_t i = 0; i < entries; i++) n.nodes.emplace_back(nodes[i], 0);
  c->pending.push_back(std::move(n));
}

void OnExpected(votequorum_handle_t handle, uint64_t, uint32_t expected) {
  Connection* c = FromContext(handle);
  if (c == nullptr) return;
  Notification n(Notification::kExpected);
  n.expected = expected;
  c->pending.push_back(std::move(n));
}

void Close(Connection* c) {
  if (c->vqOpen) votequorum_finalize(c->vq);
  if (c->cmapOpen) cmap_finalize(c->cmap);
  c->vqOpen = false;
  c->cmapOpen = false;
}

Connection* Lookup(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowType(info.Env(), "a connection id (number) is expected as the first argument");
    return nullptr;
  }
  auto it = connections.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == connections.end() || !it->second->vqOpen) {
    ThrowType(info.Env(), "not a connection to corosync, or already closed");
    return nullptr;
  }
  return it->second;
}

// connect() -> { id, fd, localNodeId }: votequorum with tracking of the current state and
// every change (CS_TRACK_CURRENT | CS_TRACK_CHANGES), and cmap for names and node ids.
Napi::Value Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = new Connection();
  votequorum_callbacks_t callbacks{};
  callbacks.votequorum_quorum_notify_fn = OnQuorum;
  callbacks.votequorum_expectedvotes_notify_fn = OnExpected;
  callbacks.votequorum_nodelist_notify_fn = OnNodelist;
  cs_error_t err = votequorum_initialize(&c->vq, &callbacks);
  if (err != CS_OK) {
    delete c;
    return ThrowCs(env, "votequorum_initialize", err);
  }
  c->vqOpen = true;
  const char* failed = nullptr;
  int fd = -1;
  uint32_t local = 0;
  if ((err = votequorum_context_set(c->vq, c)) != CS_OK) failed = "votequorum_context_set";
  else if ((err = votequorum_fd_get(c->vq, &fd)) != CS_OK) failed = "votequorum_fd_get";
  else if ((err = cmap_initialize(&c->cmap)) != CS_OK) failed = "cmap_initialize";
  else {
    c->cmapOpen = true;
    if ((err = cmap_get_uint32(c->cmap, "runtime.votequorum.this_node_id", &local)) != CS_OK) failed = "cmap_get_uint32(runtime.votequorum.this_node_id)";
    else if ((err = votequorum_trackstart(c->vq, 0, CS_TRACK_CURRENT | CS_TRACK_CHANGES)) != CS_OK) failed = "votequorum_trackstart";
  }
  if (failed != nullptr) {
    Close(c);
    delete c;
    return ThrowCs(env, failed, err);
  }
  uint32_t id = nextId++;
  connections[id] = c;
  Napi::Object out = Napi::Object::New(env);
  out.Set("id", Napi::Number::New(env, id));
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("localNodeId", Napi::Number::New(env, local));
  return out;
}

Napi::Array NodeArray(Napi::Env env, const Notification& n, bool withState) {
  Napi::Array nodes = Napi::Array::New(env, n.nodes.size());
  for (size_t i = 0; i < n.nodes.size(); i++) {
    if (withState) {
      Napi::Object node = Napi::Object::New(env);
      node.Set("id", Napi::Number::New(env, n.nodes[i].first));
      node.Set("state", Napi::Number::New(env, n.nodes[i].second));
      nodes.Set(i, node);
    } else {
      nodes.Set(i, Napi::Number::New(env, n.nodes[i].first));
    }
  }
  return nodes;
}

// dispatch(id) -> notifications[]: votequorum_dispatch(CS_DISPATCH_ALL), non-blocking
// (the descriptor was readable). Throws with code CS_ERR_LIBRARY when corosync went away.
Napi::Value Dispatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  cs_error_t err = votequorum_dispatch(c->vq, CS_DISPATCH_ALL);
  std::vector<Notification> got;
  got.swap(c->pending);
  Napi::Array out = Napi::Array::New(env, got.size());
  for (size_t i = 0; i < got.size(); i++) {
    const Notification& n = got[i];
    Napi::Object o = Napi::Object::New(env);
    switch (n.kind) {
      case Notification::kQuorum:
        o.Set("type", "quorum");
        o.Set("quorate", Napi::Boolean::New(env, n.quorate));
        o.Set("nodes", NodeArray(env, n, true));
        break;
      case Notification::kNodelist: {
        o.Set("type", "nodelist");
        Napi::Object ring = Napi::Object::New(env);
        ring.Set("nodeId", Napi::Number::New(env, n.ringNode));
        ring.Set("seq", Napi::BigInt::New(env, n.ringSeq));
        o.Set("ringId", ring);
        o.Set("members", NodeArray(env, n, false));
        break;
      }
      case Notification::kExpected:
        o.Set("type", "expected");
        o.Set("expectedVotes", Napi::Number::New(env, n.expected));
        break;
    }
    out.Set(i, o);
  }
  // Notifications already received are returned even when the connection then failed;
  // the failure is reported on the next call (the descriptor stays readable at EOF).
  if (err != CS_OK && err != CS_ERR_TRY_AGAIN && got.empty()) return ThrowCs(env, "votequorum_dispatch", err);
  return out;
}

// getinfo(id, nodeid) -> votequorum_getinfo's struct votequorum_info.
Napi::Value Getinfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsNumber()) return ThrowType(env, "getinfo(id, nodeid): nodeid (number) expected");
  struct votequorum_info vi {};
  cs_error_t err = votequorum_getinfo(c->vq, info[1].As<Napi::Number>().Uint32Value(), &vi);
  if (err != CS_OK) return ThrowCs(env, "votequorum_getinfo", err);
  Napi::Object o = Napi::Object::New(env);
  o.Set("nodeId", Napi::Number::New(env, vi.node_id));
  o.Set("nodeState", Napi::Number::New(env, vi.node_state));
  o.Set("nodeVotes", Napi::Number::New(env, vi.node_votes));
  o.Set("nodeExpectedVotes", Napi::Number::New(env, vi.node_expected_votes));
  o.Set("highestExpected", Napi::Number::New(env, vi.highest_expected));
  o.Set("totalVotes", Napi::Number::New(env, vi.total_votes));
  o.Set("quorum", Napi::Number::New(env, vi.quorum));
  o.Set("flags", Napi::Number::New(env, vi.flags));
  o.Set("qdeviceVotes", Napi::Number::New(env, vi.qdevice_votes));
  o.Set("qdeviceName", Napi::String::New(env, std::string(vi.qdevice_name, strnlen(vi.qdevice_name, sizeof vi.qdevice_name))));
  return o;
}

// setExpected(id, votes): votequorum_setexpected (corosync-quorumtool -e).
Napi::Value SetExpected(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsNumber()) return ThrowType(env, "setExpected(id, votes): votes (number) expected");
  cs_error_t err = votequorum_setexpected(c->vq, info[1].As<Napi::Number>().Uint32Value());
  if (err != CS_OK) return ThrowCs(env, "votequorum_setexpected", err);
  return env.Undefined();
}

// cancelWaitForAll(id): cmap quorum.cancel_wait_for_all = 1, what `pcs quorum unblock` sets.
Napi::Value CancelWaitForAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  cs_error_t err = cmap_set_uint8(c->cmap, "quorum.cancel_wait_for_all", 1);
  if (err != CS_OK) return ThrowCs(env, "cmap_set_uint8(quorum.cancel_wait_for_all)", err);
  return env.Undefined();
}

// waitingForAll(id): cmap runtime.votequorum.wait_for_all_status, set while wait_for_all
// still blocks (votequorum.c: "wait_for_all_status"); false when the key is absent.
Napi::Value WaitingForAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  uint8_t value = 0;
  cs_error_t err = cmap_get_uint8(c->cmap, "runtime.votequorum.wait_for_all_status", &value);
  if (err != CS_OK && err != CS_ERR_NOT_EXIST) return ThrowCs(env, "cmap_get_uint8(runtime.votequorum.wait_for_all_status)", err);
  return Napi::Boolean::New(env, value != 0);
}

// totem(id) -> { token, consensus }: the token timeout and consensus in force (ms), from
// cmap runtime.config.totem.token / .consensus (corosync's values after token_coefficient);
// consensus 0 when the key is absent.
Napi::Value Totem(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  uint32_t token = 0, consensus = 0;
  cs_error_t err = cmap_get_uint32(c->cmap, "runtime.config.totem.token", &token);
  if (err != CS_OK) return ThrowCs(env, "cmap_get_uint32(runtime.config.totem.token)", err);
  if (cmap_get_uint32(c->cmap, "runtime.config.totem.consensus", &consensus) != CS_OK) consensus = 0;
  Napi::Object o = Napi::Object::New(env);
  o.Set("token", Napi::Number::New(env, token));
  o.Set("consensus", Napi::Number::New(env, consensus));
  return o;
}

// nodes(id) -> [{ id, name }]: corosync.conf's nodelist as cmap holds it
// (nodelist.node.X.nodeid and nodelist.node.X.name; name absent: ring0_addr).
Napi::Value Nodes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Lookup(info);
  if (c == nullptr) return env.Undefined();
  std::map<std::string, std::pair<uint32_t, std::string>> byIndex;  // "nodelist.node.X" -> (id, name)
  std::map<std::string, std::string> ring0;
  cmap_iter_handle_t iter;
  cs_error_t err = cmap_iter_init(c->cmap, "nodelist.node.", &iter);
  if (err != CS_OK) return ThrowCs(env, "cmap_iter_init(nodelist.node.)", err);
  char key[CMAP_KEYNAME_MAXLEN + 1];
  size_t length;
  cmap_value_types_t type;
  while (cmap_iter_next(c->cmap, iter, key, &length, &type) == CS_OK) {
    std::string k(key);
    size_t dot = k.rfind('.');
    if (dot == std::string::npos) continue;
    std::string prefix = k.substr(0, dot), leaf = k.substr(dot + 1);
    if (leaf == "nodeid") {
      uint32_t id = 0;
      if (cmap_get_uint32(c->cmap, key, &id) == CS_OK) byIndex[prefix].first = id;
    } else if (leaf == "name" || leaf == "ring0_addr") {
      char* value = nullptr;
      if (cmap_get_string(c->cmap, key, &value) == CS_OK && value != nullptr) {
        if (leaf == "name") byIndex[prefix].second = value;
        else ring0[prefix] = value;
        free(value);
      }
    }
  }
  cmap_iter_finalize(c->cmap, iter);
  Napi::Array out = Napi::Array::New(env);
  uint32_t i = 0;
  for (auto& [prefix, node] : byIndex) {
    if (node.first == 0) continue;
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", Napi::Number::New(env, node.first));
    o.Set("name", Napi::String::New(env, node.second.empty() ? ring0[prefix] : node.second));
    out.Set(i++, o);
  }
  return out;
}

// disconnect(id): votequorum_finalize and cmap_finalize (idempotent).
Napi::Value Disconnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowType(env, "disconnect(id): number expected");
  auto it = connections.find(info[0].As<Napi::Number>().Uint32Value());
  if (it == connections.end()) return env.Undefined();
  Close(it->second);
  delete it->second;
  connections.erase(it);
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("connect", Napi::Function::New(env, Connect, "connect"));
  exports.Set("dispatch", Napi::Function::New(env, Dispatch, "dispatch"));
  exports.Set("getinfo", Napi::Function::New(env, Getinfo, "getinfo"));
  exports.Set("setExpected", Napi::Function::New(env, SetExpected, "setExpected"));
  exports.Set("cancelWaitForAll", Napi::Function::New(env, CancelWaitForAll, "cancelWaitForAll"));
  exports.Set("waitingForAll", Napi::Function::New(env, WaitingForAll, "waitingForAll"));
  exports.Set("totem", Napi::Function::New(env, Totem, "totem"));
  exports.Set("nodes", Napi::Function::New(env, Nodes, "nodes"));
  exports.Set("disconnect", Napi::Function::New(env, Disconnect, "disconnect"));
  Napi::Object flags = Napi::Object::New(env);
  flags.Set("TWONODE", Napi::Number::New(env, VOTEQUORUM_INFO_TWONODE));
  flags.Set("QUORATE", Napi::Number::New(env, VOTEQUORUM_INFO_QUORATE));
  flags.Set("WAIT_FOR_ALL", Napi::Number::New(env, VOTEQUORUM_INFO_WAIT_FOR_ALL));
  flags.Set("LAST_MAN_STANDING", Napi::Number::New(env, VOTEQUORUM_INFO_LAST_MAN_STANDING));
  flags.Set("AUTO_TIE_BREAKER", Napi::Number::New(env, VOTEQUORUM_INFO_AUTO_TIE_BREAKER));
  flags.Set("ALLOW_DOWNSCALE", Napi::Number::New(env, VOTEQUORUM_INFO_ALLOW_DOWNSCALE));
  flags.Set("QDEVICE_REGISTERED", Napi::Number::New(env, VOTEQUORUM_INFO_QDEVICE_REGISTERED));
  flags.Set("QDEVICE_ALIVE", Napi::Number::New(env, VOTEQUORUM_INFO_QDEVICE_ALIVE));
  flags.Set("QDEVICE_CAST_VOTE", Napi::Number::New(env, VOTEQUORUM_INFO_QDEVICE_CAST_VOTE));
  flags.Set("QDEVICE_MASTER_WINS", Napi::Number::New(env, VOTEQUORUM_INFO_QDEVICE_MASTER_WINS));
  exports.Set("flags", flags);
  return exports;
}

}  // namespace

NODE_API_MODULE(vigil_corosync, Init)
