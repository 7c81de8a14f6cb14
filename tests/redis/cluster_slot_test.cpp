// Pure parts of the cluster client: CRC16 and key slots (the cluster spec's vectors), slot
// maps from recorded CLUSTER SHARDS / CLUSTER SLOTS replies, redirects and key positions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "redis/cluster/command_keys.h"
#include "redis/cluster/crc16.h"
#include "redis/cluster/slot_map.h"

namespace suoke::redis::cluster {
namespace {

Value bulk(std::string s) {
  Value v;
  v.type = Value::Type::kBulkString;
  v.str = std::move(s);
  return v;
}
Value integer(int64_t n) {
  Value v;
  v.type = Value::Type::kInteger;
  v.integer = n;
  return v;
}
Value null() { return Value{}; }
Value array(std::vector<Value> elements) {
  Value v;
  v.type = Value::Type::kArray;
  v.elements = std::move(elements);
  return v;
}
Value map(std::vector<Value> elements) {
  Value v = array(std::move(elements));
  v.type = Value::Type::kMap;
  return v;
}

TEST(Crc16Test, SpecVector) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);
  EXPECT_EQ(crc16(""), 0);
}

TEST(KeySlotTest, KnownSlots) {
  // Values as `CLUSTER KEYSLOT` returns them.
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("hello"), 866);
  EXPECT_EQ(key_slot(""), 0);
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);
}

TEST(KeySlotTest, HashTags) {
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  // Empty tag: the whole key is hashed.
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") % 16384);
  // Only the first '{' opens a tag; the first '}' after it closes it.
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(hash_tag("{}"), "{}");
  EXPECT_EQ(hash_tag("{"), "{");
  EXPECT_EQ(hash_tag("}{"), "}{");
  EXPECT_EQ(hash_tag("a}b{c}"), "c");
  EXPECT_EQ(hash_tag("{a"), "{a");
  // Binary-safe: NUL bytes count.
  std::string with_nul("a\0b", 3);
  EXPECT_NE(key_slot(with_nul), key_slot("a"));
}

// A CLUSTER SHARDS node record (RESP2 flat array of name/value pairs).
Value node(std::string id, int port, std::string ip, Value endpoint, std::string role,
           std::string health = "online") {
  return array({bulk("id"), bulk(std::move(id)), bulk("port"), integer(port), bulk("ip"),
                bulk(std::move(ip)), bulk("endpoint"), std::move(endpoint), bulk("role"),
                bulk(std::move(role)), bulk("replication-offset"), integer(100), bulk("health"),
                bulk(std::move(health))});
}

Value shard(std::vector<int64_t> slots, std::vector<Value> nodes) {
  std::vector<Value> s;
  for (int64_t n : slots) s.push_back(integer(n));
  return array({bulk("slots"), array(std::move(s)), bulk("nodes"), array(std::move(nodes))});
}

TEST(SlotMapTest, FromClusterShards) {
  Value reply = array({
      shard({0, 5460}, {node("a", 7001, "10.0.0.1", bulk("10.0.0.1"), "master"),
                        node("d", 7004, "10.0.0.4", bulk("10.0.0.4"), "replica")}),
      shard({5461, 10922}, {node("b", 7002, "10.0.0.2", bulk("10.0.0.2"), "master"),
                            node("e", 7005, "10.0.0.5", bulk("10.0.0.5"), "replica")}),
      shard({10923, 12000, 12001, 16383},
            {node("c", 7003, "10.0.0.3", bulk("10.0.0.3"), "master"),
             node("f", 7006, "10.0.0.6", bulk("10.0.0.6"), "replica")}),
  });
  auto map = SlotMap::from_cluster_shards(reply, "seed");
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_EQ(map->covered_slots(), 16384);
  EXPECT_EQ(map->master_for(0)->to_string(), "10.0.0.1:7001");
  EXPECT_EQ(map->master_for(5460)->to_string(), "10.0.0.1:7001");
  EXPECT_EQ(map->master_for(5461)->to_string(), "10.0.0.2:7002");
  EXPECT_EQ(map->master_for(16383)->to_string(), "10.0.0.3:7003");
  EXPECT_EQ(map->master_for(12000)->to_string(), "10.0.0.3:7003");
  ASSERT_EQ(map->shard_for(100)->replicas.size(), 1u);
  EXPECT_EQ(map->shard_for(100)->replicas[0].endpoint.to_string(), "10.0.0.4:7004");
  EXPECT_EQ(map->shard_for(100)->master.id, "a");
  EXPECT_EQ(map->masters().size(), 3u);
  EXPECT_EQ(map->all_nodes().size(), 6u);
}

TEST(SlotMapTest, ShardsAsResp3Maps) {
  Value n = map({bulk("id"), bulk("a"), bulk("port"), integer(7001), bulk("ip"), bulk("127.0.0.1"),
                 bulk("endpoint"), bulk("127.0.0.1"), bulk("role"), bulk("master"), bulk("health"),
                 bulk("online")});
  Value reply =
      array({map({bulk("slots"), array({integer(0), integer(16383)}), bulk("nodes"), array({n})})});
  auto m = SlotMap::from_cluster_shards(reply, "x");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->covered_slots(), 16384);
  EXPECT_EQ(m->master_for(42)->to_string(), "127.0.0.1:7001");
}

TEST(SlotMapTest, EndpointRules) {
  // Empty and NULL endpoints (with no IP) mean "the host the command was sent to"; "?" with an
  // IP falls back to the IP; "?" without one is an unknown node and is left out.
  Value reply = array({
      shard({0, 99}, {node("a", 7001, "", bulk(""), "master")}),
      shard({100, 199}, {node("b", 7002, "", null(), "master")}),
      shard({200, 299}, {node("c", 7003, "10.1.1.3", bulk("?"), "master")}),
      shard({300, 399}, {node("d", 7004, "", bulk("?"), "master")}),
      shard({400, 499}, {node("e", 7005, "10.1.1.5", bulk("redis-e.internal"), "master")}),
  });
  auto m = SlotMap::from_cluster_shards(reply, "seed.example");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->master_for(0)->to_string(), "seed.example:7001");
  EXPECT_EQ(m->master_for(150)->to_string(), "seed.example:7002");
  EXPECT_EQ(m->master_for(250)->to_string(), "10.1.1.3:7003");
  EXPECT_EQ(m->master_for(350), nullptr);
  EXPECT_EQ(m->master_for(450)->to_string(), "redis-e.internal:7005");
  EXPECT_EQ(m->covered_slots(), 400);
}

TEST(SlotMapTest, FailedOldMasterMidFailover) {
  Value reply = array(
      {shard({0, 16383}, {node("old", 7001, "127.0.0.1", bulk("127.0.0.1"), "master", "failed"),
                          node("new", 7004, "127.0.0.1", bulk("127.0.0.1"), "master")})});
  auto m = SlotMap::from_cluster_shards(reply, "x");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->master_for(7)->port, 7004);
  ASSERT_EQ(m->shard_for(7)->replicas.size(), 1u);
  EXPECT_FALSE(m->shard_for(7)->replicas[0].online);
}

TEST(SlotMapTest, ShardWithoutSlots) {
  Value reply =
      array({shard({0, 16383}, {node("a", 7001, "127.0.0.1", bulk("127.0.0.1"), "master")}),
             shard({}, {node("b", 7002, "127.0.0.1", bulk("127.0.0.1"), "master")})});
  auto m = SlotMap::from_cluster_shards(reply, "x");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->masters().size(), 1u);  // b serves nothing: not scanned, not routed to
  EXPECT_EQ(m->all_nodes().size(), 2u);
}

TEST(SlotMapTest, MalformedShardsRejected) {
  EXPECT_FALSE(SlotMap::from_cluster_shards(bulk("nope"), "x").ok());
  EXPECT_FALSE(SlotMap::from_cluster_shards(array({array({bulk("slots")})}), "x").ok());
  EXPECT_FALSE(
      SlotMap::from_cluster_shards(
          array({shard({0}, {node("a", 7001, "127.0.0.1", bulk("127.0.0.1"), "master")})}), "x")
          .ok());
  EXPECT_FALSE(
      SlotMap::from_cluster_shards(
          array({shard({5, 1}, {node("a", 7001, "127.0.0.1", bulk("127.0.0.1"), "master")})}), "x")
          .ok());
  EXPECT_FALSE(
      SlotMap::from_cluster_shards(
          array({shard({0, 16384}, {node("a", 7001, "127.0.0.1", bulk("127.0.0.1"), "master")})}),
          "x")
          .ok());
  EXPECT_FALSE(
      SlotMap::from_cluster_shards(
          array({shard({0, 1}, {node("a", 0, "127.0.0.1", bulk("127.0.0.1"), "master")})}), "x")
          .ok());
  Value err;
  err.type = Value::Type::kError;
  err.str = "ERR This instance has cluster support disabled";
  auto r = SlotMap::from_cluster_shards(err, "x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("cluster support disabled"), std::string::npos);
}

TEST(SlotMapTest, FromClusterSlots) {
  // Redis 7 CLUSTER SLOTS: [start, end, [endpoint, port, id, {metadata}], replicas...]
  Value reply = array({
      array({integer(0), integer(5460),
             array({bulk("127.0.0.1"), integer(30001), bulk("id1"), array({})}),
             array({bulk("127.0.0.1"), integer(30004), bulk("id4"), array({})})}),
      array({integer(5461), integer(10922), array({null(), integer(30002), bulk("id2")})}),
      array(
          {integer(10923), integer(16383),
           array({bulk("?"), integer(30003), bulk("id3"), array({bulk("ip"), bulk("10.0.0.3")})})}),
  });
  auto m = SlotMap::from_cluster_slots(reply, "seed");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ(m->covered_slots(), 16384);
  EXPECT_EQ(m->master_for(0)->to_string(), "127.0.0.1:30001");
  EXPECT_EQ(m->shard_for(0)->replicas.at(0).endpoint.port, 30004);
  EXPECT_EQ(m->master_for(6000)->to_string(), "seed:30002");
  EXPECT_EQ(m->master_for(16000)->to_string(), "10.0.0.3:30003");
}

TEST(SlotMapTest, ClusterSlotsMergesRangesOfOneMaster) {
  Value reply = array({
      array({integer(0), integer(10), array({bulk("h"), integer(1)})}),
      array({integer(20), integer(30), array({bulk("h"), integer(1)})}),
      array({integer(11), integer(19), array({bulk("h"), integer(2)})}),
  });
  auto m = SlotMap::from_cluster_slots(reply, "seed");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->masters().size(), 2u);
  EXPECT_EQ(m->covered_slots(), 31);
  EXPECT_EQ(m->master_for(25)->port, 1);
  EXPECT_EQ(m->master_for(15)->port, 2);
  EXPECT_EQ(m->master_for(31), nullptr);
}

TEST(SlotMapTest, WithSlotOwnerCopies) {
  Value reply =
      array({shard({0, 16383}, {node("a", 7001, "127.0.0.1", bulk("127.0.0.1"), "master"),
                                node("b", 7002, "127.0.0.1", bulk("127.0.0.1"), "replica")})});
  auto m = SlotMap::from_cluster_shards(reply, "x");
  ASSERT_TRUE(m.ok());
  SlotMap moved = m->with_slot_owner(42, Endpoint{"127.0.0.1", 7002});
  EXPECT_EQ(moved.master_for(42)->port, 7002);
  EXPECT_EQ(moved.master_for(43)->port, 7001);
  EXPECT_EQ(m->master_for(42)->port, 7001);  // the original snapshot is untouched
  EXPECT_EQ(moved.masters().size(), 2u);
  SlotMap back = moved.with_slot_owner(42, Endpoint{"127.0.0.1", 7001});
  EXPECT_EQ(back.masters().size(), 1u);
}

TEST(RedirectTest, Parse) {
  Redirect r;
  ASSERT_TRUE(parse_redirect("MOVED 3999 127.0.0.1:6381", &r));
  EXPECT_EQ(r.kind, Redirect::Kind::kMoved);
  EXPECT_EQ(r.slot, 3999);
  EXPECT_EQ(r.target.to_string(), "127.0.0.1:6381");
  ASSERT_TRUE(parse_redirect("ASK 3999 10.0.0.2:7000", &r));
  EXPECT_EQ(r.kind, Redirect::Kind::kAsk);
  ASSERT_TRUE(parse_redirect("MOVED 1 :6380", &r));
  EXPECT_EQ(r.target.host, "");
  EXPECT_EQ(r.target.port, 6380);
  ASSERT_TRUE(parse_redirect("MOVED 1 [::1]:6380", &r));
  EXPECT_EQ(r.target.host, "::1");
  EXPECT_EQ(r.target.to_string(), "[::1]:6380");
  EXPECT_FALSE(parse_redirect("MOVED", &r));
  EXPECT_FALSE(parse_redirect("MOVED 16384 h:1", &r));
  EXPECT_FALSE(parse_redirect("MOVED x h:1", &r));
  EXPECT_FALSE(parse_redirect("MOVED 1 h", &r));
  EXPECT_FALSE(parse_redirect("MOVED 1 h:0", &r));
  EXPECT_FALSE(parse_redirect("MOVED 1 h:70000", &r));
  EXPECT_FALSE(parse_redirect("ERR MOVED 1 h:1", &r));
  EXPECT_FALSE(parse_redirect("TRYAGAIN", &r));
}

std::vector<size_t> keys_of(Command c) {
  auto r = command_key_indices(c);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : std::vector<size_t>{};
}

TEST(CommandKeysTest, Positions) {
  using V = std::vector<size_t>;
  EXPECT_EQ(keys_of({"GET", "k"}), V{1});
  EXPECT_EQ(keys_of({"get", "k"}), V{1});
  EXPECT_EQ(keys_of({"SET", "k", "v", "EX", "10"}), V{1});
  EXPECT_EQ(keys_of({"DEL", "a", "b", "c"}), (V{1, 2, 3}));
  EXPECT_EQ(keys_of({"MSET", "a", "1", "b", "2"}), (V{1, 3}));
  EXPECT_EQ(keys_of({"MGET", "a", "b"}), (V{1, 2}));
  EXPECT_EQ(keys_of({"EVAL", "return 1", "2", "a", "b", "arg"}), (V{3, 4}));
  EXPECT_EQ(keys_of({"EVALSHA", "abc", "0", "arg"}), V{});
  EXPECT_EQ(keys_of({"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}), (V{1, 3, 4}));
  EXPECT_EQ(keys_of({"BLPOP", "a", "b", "0"}), (V{1, 2}));
  EXPECT_EQ(keys_of({"RENAME", "a", "b"}), (V{1, 2}));
  EXPECT_EQ(keys_of({"XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"}), (V{4, 5}));
  EXPECT_EQ(keys_of({"XREADGROUP", "GROUP", "g", "c", "streams", "s1", ">"}), (V{5}));
  EXPECT_EQ(keys_of({"RESTORE", "k", "0", "payload", "REPLACE"}), V{1});
  EXPECT_EQ(keys_of({"HSCAN", "h", "0", "COUNT", "10"}), V{1});
  EXPECT_EQ(keys_of({"PING"}), V{});
  EXPECT_EQ(keys_of({"INFO", "replication"}), V{});
  EXPECT_EQ(keys_of({"SCAN", "0"}), V{});
  EXPECT_EQ(keys_of({"OBJECT", "ENCODING", "k"}), V{2});
  EXPECT_EQ(keys_of({"OBJECT", "HELP"}), V{});
  EXPECT_EQ(keys_of({"MIGRATE", "h", "1", "k", "0", "100"}), V{3});
  EXPECT_EQ(keys_of({"MIGRATE", "h", "1", "", "0", "100", "REPLACE", "KEYS", "a", "b"}), (V{8, 9}));
  EXPECT_EQ(keys_of({"BITOP", "AND", "d", "a", "b"}), (V{2, 3, 4}));
  // Not in the table: the first argument is taken as the key.
  EXPECT_EQ(keys_of({"SOMEMODULE.CMD", "k", "x"}), V{1});
}

TEST(CommandKeysTest, BadKeyCounts) {
  EXPECT_FALSE(command_key_indices({"EVAL", "s", "3", "a"}).ok());
  EXPECT_FALSE(command_key_indices({"EVAL", "s", "-1"}).ok());
  EXPECT_FALSE(command_key_indices({"EVAL", "s", "x"}).ok());
  EXPECT_FALSE(command_key_indices({"EVAL", "s"}).ok());
  EXPECT_FALSE(command_key_indices({"XREAD", "STREAMS", "a"}).ok());
  EXPECT_FALSE(command_key_indices({}).ok());
}

TEST(CommandKeysTest, SlotAndCrossSlot) {
  auto s = command_slot({"GET", "foo"});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value(), std::optional<uint16_t>(12182));
  auto none = command_slot({"PING"});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().has_value());
  auto same = command_slot({"MGET", "{user1000}.following", "{user1000}.followers"});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same.value(), key_slot("user1000"));
  auto cross = command_slot({"MGET", "foo", "bar"});
  ASSERT_FALSE(cross.ok());
  EXPECT_EQ(cross.error().message, "CROSSSLOT: keys in request don't hash to the same slot");
  EXPECT_EQ(cross.error().kind, "crossslot");
  EXPECT_FALSE(command_slot({"EVAL", "x", "2", "foo", "bar"}).ok());
  EXPECT_TRUE(command_slot({"EVAL", "x", "2", "{t}foo", "{t}bar"}).ok());
}

}  // namespace
}  // namespace suoke::redis::cluster
