#include "redis/cluster/slot_map.h"

#include <algorithm>
#include <charconv>

#include "redis/cluster/crc16.h"

namespace suoke::redis::cluster {
namespace {

bool is_list(const Value& v) {
  return v.type == Value::Type::kArray || v.type == Value::Type::kSet;
}

// A field of a CLUSTER SHARDS record: a RESP2 flat array of alternating names and values,
// or a RESP3 map (also stored as alternating elements).
const Value* field(const Value& record, std::string_view name) {
  if (!is_list(record) && record.type != Value::Type::kMap) return nullptr;
  const auto& e = record.elements;
  for (size_t i = 0; i + 1 < e.size(); i += 2) {
    if (e[i].is_string() && e[i].str == name) return &e[i + 1];
  }
  return nullptr;
}

// Integers arrive as RESP integers, but a proxy or RESP3 double may carry them as text.
bool as_int(const Value* v, int64_t* out) {
  if (v == nullptr) return false;
  if (v->type == Value::Type::kInteger) {
    *out = v->integer;
    return true;
  }
  if (v->is_string() || v->type == Value::Type::kBigNumber) {
    const char* b = v->str.data();
    const char* e = b + v->str.size();
    auto [p, ec] = std::from_chars(b, e, *out);
    return ec == std::errc() && p == e;
  }
  return false;
}

bool as_port(const Value* v, uint16_t* out) {
  int64_t n;
  if (!as_int(v, &n) || n <= 0 || n > 65535) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

bool as_slot(const Value* v, uint16_t* out) {
  int64_t n;
  if (!as_int(v, &n) || n < 0 || n >= kSlotCount) return false;
  *out = static_cast<uint16_t>(n);
  return true;
}

// Applies the spec's endpoint rules. Returns false for an unusable ("?") endpoint.
bool resolve_host(const Value* endpoint, const Value* ip, std::string_view queried_host,
                  std::string* host) {
  auto usable = [](const Value* v) {
    return v != nullptr && v->is_string() && !v->str.empty() && v->str != "?";
  };
  if (usable(endpoint)) {
    *host = endpoint->str;
    return true;
  }
  // "?" is an unknown node, possibly not the one we asked, so only its IP can locate it.
  bool endpoint_unknown = endpoint != nullptr && endpoint->is_string() && endpoint->str == "?";
  if (usable(ip)) {
    *host = ip->str;
    return true;
  }
  if (endpoint_unknown) return false;
  // NULL or "": the node does not know its address; it is the host the command went to.
  *host = std::string(queried_host);
  return !host->empty();
}

Error bad_reply(std::string_view what, std::string_view detail) {
  return Error::make(std::string(what) + ": " + std::string(detail), "protocol");
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return Error::make("endpoint without port: " + std::string(text), "parse");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return Error::make("bad port in endpoint: " + std::string(text), "parse");
  }
  return Endpoint{std::string(host), static_cast<uint16_t>(port)};
}

bool parse_redirect(std::string_view text, Redirect* out) {
  Redirect r;
  if (text.starts_with("MOVED ")) {
    r.kind = Redirect::Kind::kMoved;
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    r.kind = Redirect::Kind::kAsk;
    text.remove_prefix(4);
  } else {
    return false;
  }
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return false;
  unsigned slot = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + space, slot);
  if (ec != std::errc() || p != text.data() + space || slot >= kSlotCount) return false;
  std::string_view target = text.substr(space + 1);
  // Tolerate trailing text some proxies append.
  if (size_t sp = target.find(' '); sp != std::string_view::npos) target = target.substr(0, sp);
  auto ep = parse_endpoint(target);
  if (!ep) return false;
  r.slot = static_cast<uint16_t>(slot);
  r.target = std::move(ep.value());
  *out = std::move(r);
  return true;
}

SlotMap::SlotMap() : owner_(kSlotCount, -1) {}

void SlotMap::add_shard(Shard shard) {
  // Two records for one master (CLUSTER SLOTS lists a master once per range) merge.
  int16_t index = -1;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i].master.endpoint == shard.master.endpoint) index = static_cast<int16_t>(i);
  }
  if (index < 0) {
    index = static_cast<int16_t>(shards_.size());
    shards_.push_back(Shard{shard.master, shard.replicas, {}});
  } else {
    for (auto& r : shard.replicas) {
      auto& reps = shards_[index].replicas;
      bool known = std::any_of(reps.begin(), reps.end(),
                               [&](const NodeInfo& n) { return n.endpoint == r.endpoint; });
      if (!known) reps.push_back(r);
    }
  }
  for (auto [first, last] : shard.slots) {
    shards_[index].slots.emplace_back(first, last);
    for (int s = first; s <= last; ++s) owner_[s] = index;
  }
}

Result<SlotMap> SlotMap::from_cluster_shards(const Value& reply, std::string_view queried_host) {
  if (reply.is_error()) return Error::make("CLUSTER SHARDS failed: " + reply.str, "cluster");
  if (!is_list(reply)) return bad_reply("CLUSTER SHARDS", "reply is not an array");
  SlotMap map;
  for (const Value& record : reply.elements) {
    const Value* slots = field(record, "slots");
    const Value* nodes = field(record, "nodes");
    if (slots == nullptr || nodes == nullptr || !is_list(*slots) || !is_list(*nodes)) {
      return bad_reply("CLUSTER SHARDS", "shard without slots/nodes");
    }
    if (slots->elements.size() % 2 != 0) return bad_reply("CLUSTER SHARDS", "odd slot range list");
    Shard shard;
    for (size_t i = 0; i < slots->elements.size(); i += 2) {
      uint16_t first, last;
      if (!as_slot(&slots->elements[i], &first) || !as_slot(&slots->elements[i + 1], &last) ||
          first > last) {
        return bad_reply("CLUSTER SHARDS", "bad slot range");
      }
      shard.slots.emplace_back(first, last);
    }
    std::vector<NodeInfo> masters;
    for (const Value& node : nodes->elements) {
      NodeInfo info;
      uint16_t port = 0;
      if (!as_port(field(node, "port"), &port)) {
        // A TLS-only node lists tls-port instead.
        if (!as_port(field(node, "tls-port"), &port))
          return bad_reply("CLUSTER SHARDS", "node without port");
      }
      if (!resolve_host(field(node, "endpoint"), field(node, "ip"), queried_host,
                        &info.endpoint.host))
        continue;
      info.endpoint.port = port;
      if (const Value* id = field(node, "id"); id != nullptr && id->is_string()) info.id = id->str;
      if (const Value* h = field(node, "health"); h != nullptr && h->is_string())
        info.online = h->str == "online";
      const Value* role = field(node, "role");
      bool is_master = role != nullptr && role->is_string() && role->str == "master";
      (is_master ? masters : shard.replicas).push_back(std::move(info));
    }
    // Mid-failover, a shard can list its failed old master next to the promoted one: the
    // online master serves the slots.
    if (masters.empty()) continue;  // no usable master: its slots stay unserved
    auto it =
        std::find_if(masters.begin(), masters.end(), [](const NodeInfo& n) { return n.online; });
    if (it == masters.end()) it = masters.begin();
    shard.master = *it;
    for (auto m = masters.begin(); m != masters.end(); ++m) {
      if (m != it) shard.replicas.push_back(*m);
    }
    map.add_shard(std::move(shard));
  }
  map.index_masters();
  return map;
}

Result<SlotMap> SlotMap::from_cluster_slots(const Value& reply, std::string_view queried_host) {
  if (reply.is_error()) return Error::make("CLUSTER SLOTS failed: " + reply.str, "cluster");
  if (!is_list(reply)) return bad_reply("CLUSTER SLOTS", "reply is not an array");
  SlotMap map;
  for (const Value& range : reply.elements) {
    if (!is_list(range) || range.elements.size() < 3)
      return bad_reply("CLUSTER SLOTS", "bad range entry");
    uint16_t first, last;
    if (!as_slot(&range.elements[0], &first) || !as_slot(&range.elements[1], &last) ||
        first > last) {
      return bad_reply("CLUSTER SLOTS", "bad slot range");
    }
    Shard shard;
    shard.slots.emplace_back(first, last);
    bool have_master = false;
    for (size_t i = 2; i < range.elements.size(); ++i) {
      const Value& node = range.elements[i];
      if (!is_list(node) || node.elements.size() < 2)
        return bad_reply("CLUSTER SLOTS", "bad node entry");
      NodeInfo info;
      if (!as_port(&node.elements[1], &info.endpoint.port))
        return bad_reply("CLUSTER SLOTS", "bad node port");
      // Element 0 is the preferred endpoint (may be NULL, "" or "?"); the metadata map in
      // element 3 (Redis 7) may carry the IP when the preferred endpoint is a hostname.
      const Value* ip = nullptr;
      if (node.elements.size() > 3) ip = field(node.elements[3], "ip");
      bool usable = resolve_host(&node.elements[0], ip, queried_host, &info.endpoint.host);
      if (node.elements.size() > 2 && node.elements[2].is_string()) info.id = node.elements[2].str;
      if (i == 2) {
        if (!usable) break;  // master unknown: the range stays unserved
        shard.master = std::move(info);
        have_master = true;
      } else if (usable) {
        shard.replicas.push_back(std::move(info));
      }
    }
    if (have_master) map.add_shard(std::move(shard));
  }
  map.index_masters();
  return map;
}

const Endpoint* SlotMap::master_for(uint16_t slot) const {
  const Shard* s = shard_for(slot);
  return s == nullptr ? nullptr : &s->master.endpoint;
}

const Shard* SlotMap::shard_for(uint16_t slot) const {
  if (slot >= kSlotCount) return nullptr;
  int16_t i = owner_[slot];
  return i < 0 ? nullptr : &shards_[i];
}

SlotMap SlotMap::with_slot_owner(uint16_t slot, const Endpoint& owner) const {
  SlotMap copy = *this;
  if (slot >= kSlotCount) return copy;
  int16_t index = -1;
  for (size_t i = 0; i < copy.shards_.size(); ++i) {
    if (copy.shards_[i].master.endpoint == owner) index = static_cast<int16_t>(i);
  }
  if (index < 0) {
    index = static_cast<int16_t>(copy.shards_.size());
    Shard shard;
    shard.master.endpoint = owner;
    copy.shards_.push_back(std::move(shard));
  }
  copy.owner_[slot] = index;
  copy.shards_[index].slots.emplace_back(slot, slot);
  copy.index_masters();
  return copy;
}

void SlotMap::index_masters() {
  std::vector<bool> serving(shards_.size(), false);
  for (int16_t i : owner_) {
    if (i >= 0) serving[i] = true;
  }
  masters_.clear();
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (serving[i] &&
        std::find(masters_.begin(), masters_.end(), shards_[i].master.endpoint) == masters_.end()) {
      masters_.push_back(shards_[i].master.endpoint);
    }
  }
}

std::vector<Endpoint> SlotMap::all_nodes() const {
  std::vector<Endpoint> out;
  auto add = [&](const Endpoint& e) {
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  };
  for (const Shard& s : shards_) {
    add(s.master.endpoint);
    for (const NodeInfo& r : s.replicas) add(r.endpoint);
  }
  return out;
}

int SlotMap::covered_slots() const {
  return static_cast<int>(
      std::count_if(owner_.begin(), owner_.end(), [](int16_t i) { return i >= 0; }));
}

}  // namespace suoke::redis::cluster
