// Helpers shared by the response-transformer unit and integration tests: gzip/deflate
// encoders (Beast's zlib port, so the decoder is checked against an independent encoder
// path) and a response-transformer config builder.
#pragma once

#include <boost/beast/zlib/deflate_stream.hpp>
#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace suoke::testing {

inline uint32_t test_crc32(std::string_view data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

inline std::string raw_deflate(std::string_view data, int level = 6) {
  namespace zlib = boost::beast::zlib;
  zlib::deflate_stream ds;
  ds.reset(level, 15, 8, zlib::Strategy::normal);
  std::string out;
  out.resize(data.size() + data.size() / 2 + 1024);
  zlib::z_params zs;
  zs.next_in = data.data();
  zs.avail_in = data.size();
  zs.next_out = out.data();
  zs.avail_out = out.size();
  boost::system::error_code ec;
  for (;;) {
    ds.write(zs, zlib::Flush::finish, ec);
    if (ec == zlib::error::end_of_stream) break;
    if (zs.avail_out == 0) {
      std::size_t used = out.size();
      out.resize(out.size() * 2);
      zs.next_out = out.data() + used;
      zs.avail_out = out.size() - used;
      continue;
    }
    if (ec && ec != zlib::error::need_buffers) return {};
  }
  out.resize(zs.total_out);
  return out;
}

inline void put_le32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline std::string gzip(std::string_view data) {
  std::string out("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
  out += raw_deflate(data);
  put_le32(out, test_crc32(data));
  put_le32(out, static_cast<uint32_t>(data.size()));
  return out;
}

inline std::string zlib_deflate(std::string_view data) {
  std::string out("\x78\x9c", 2);
  out += raw_deflate(data);
  uint32_t a = 1, b = 0;
  for (unsigned char c : data) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  uint32_t adler = (b << 16) | a;
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((adler >> (8 * i)) & 0xff));
  return out;
}

// A validated-looking response-transformer config: every section present with empty lists,
// then the given entries, e.g. rt_config({{"remove", "json", {"a", "b.c"}}}).
struct RtEntries {
  std::string section;  // remove | rename | replace | add | append
  std::string field;    // json | headers | json_types
  std::vector<std::string> values;
};

inline boost::json::object rt_config(const std::vector<RtEntries>& entries) {
  boost::json::object config;
  for (const char* s : {"remove", "rename", "replace", "add", "append"}) {
    boost::json::object section{{"json", boost::json::array{}}, {"headers", boost::json::array{}}};
    if (std::string_view(s) != "remove" && std::string_view(s) != "rename") {
      section["json_types"] = boost::json::array{};
    }
    config[s] = std::move(section);
  }
  for (const auto& e : entries) {
    boost::json::array values;
    for (const auto& v : e.values) values.emplace_back(v);
    config[e.section].as_object()[e.field] = std::move(values);
  }
  return config;
}

}  // namespace suoke::testing
