// The checkpoint file: what a run saves is what a resume reads, and a damaged file gives a
// message naming what is wrong (never an exception, never a silently different position).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "migrate/checkpoint.h"
#include "support/process.h"

namespace suoke::migrate {
namespace {

Checkpoint sample() {
  Checkpoint cp;
  cp.from = "redis://127.0.0.1:6379/0";
  cp.to = "redis-cluster://127.0.0.1:7001";
  cp.match = std::string("a\0{b}\n*", 7);  // bytes, not UTF-8 text
  cp.key_prefix = "db{db}:";
  cp.db = "all";
  cp.databases = {0, 3};
  cp.db_index = 1;
  cp.position.cursors["127.0.0.1:6379"] = "1234";
  cp.position.finished.insert("127.0.0.1:7002");
  cp.counts.migrated = 9;
  cp.counts.bytes = 999;
  cp.seconds = 1.5;
  return cp;
}

TEST(Checkpoint, SavedThenLoadedIsTheSame) {
  suoke::testing::TempDir dir;
  const std::string path = dir.path() + "/cp";
  ASSERT_TRUE(save_checkpoint(path, sample()).ok());
  auto cp = load_checkpoint(path);
  ASSERT_TRUE(cp.ok()) << cp.error().message;
  Checkpoint want = sample();
  EXPECT_EQ(cp->match, want.match);
  EXPECT_EQ(cp->key_prefix, want.key_prefix);
  EXPECT_EQ(cp->databases, want.databases);
  EXPECT_EQ(cp->db_index, want.db_index);
  EXPECT_EQ(cp->position.cursors, want.position.cursors);
  EXPECT_EQ(cp->position.finished, want.position.finished);
  EXPECT_EQ(cp->counts.migrated, 9u);
  EXPECT_EQ(cp->counts.bytes, 999u);
  EXPECT_DOUBLE_EQ(cp->seconds, 1.5);
}

TEST(Checkpoint, MissingFileIsNotFound) {
  auto cp = load_checkpoint("/nonexistent/suoke-checkpoint");
  ASSERT_FALSE(cp.ok());
  EXPECT_EQ(cp.error().kind, "not_found");
}

struct BadCase {
  const char* text;
  const char* message_part;
};

TEST(Checkpoint, DamagedTextIsAnErrorNamingTheField) {
  const BadCase cases[] = {
      {"", "not valid JSON"},
      {"{\"version\":1,", "not valid JSON"},
      {"[1]", "not a JSON object"},
      {"{\"version\":2}", "unknown format version 2"},
      {"{\"version\":-1}", "\"version\" must be a non-negative integer"},
      {"{\"version\":1,\"db_index\":-1}", "\"db_index\" must be a non-negative integer"},
      {"{\"version\":1,\"db_index\":1.5}", "\"db_index\" must be a non-negative integer"},
      {"{\"version\":1,\"databases\":[0],\"db_index\":2}", "\"db_index\" is past the last database"},
      {"{\"version\":1,\"databases\":[\"0\"]}", "\"databases\" must hold database numbers"},
      {"{\"version\":1,\"databases\":[1e300]}", "\"databases\" must hold database numbers"},
      {"{\"version\":1,\"databases\":{}}", "\"databases\" must be an array"},
      {"{\"version\":1,\"cursors\":{\"n:1\":5}}", "the cursor of n:1 must be a string"},
      {"{\"version\":1,\"finished\":[1]}", "\"finished\" must hold node addresses"},
      {"{\"version\":1,\"counts\":{\"migrated\":-3}}", "counts: \"migrated\" must be a non-negative integer"},
      {"{\"version\":1,\"match_hex\":\"zz\"}", "\"match\" is not hex"},
      {"{\"version\":1,\"key_prefix_hex\":\"abc\"}", "\"key_prefix\" is not hex"},
      {"{\"version\":1,\"seconds\":\"x\"}", "\"seconds\" must be a number"},
  };
  for (const auto& c : cases) {
    auto cp = parse_checkpoint(c.text, "f.cp");
    ASSERT_FALSE(cp.ok()) << c.text;
    EXPECT_NE(cp.error().message.find("checkpoint f.cp: "), std::string::npos) << cp.error().message;
    EXPECT_NE(cp.error().message.find(c.message_part), std::string::npos)
        << "for " << c.text << ": " << cp.error().message;
  }
}

}  // namespace
}  // namespace suoke::migrate
