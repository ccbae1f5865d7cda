#include "replies.h"

#include <charconv>
#include <functional>

#include "resumable/tree_digest.h"
#include "status_map.h"

namespace resumable::resumablejs {

using nlohmann::json;

namespace {

std::uint64_t field_number(const std::map<std::string, std::string>& fields, const char* name) {
  const auto it = fields.find(name);
  std::uint64_t value = 0;
  if (it != fields.end()) std::from_chars(it->second.data(), it->second.data() + it->second.size(), value);
  return value;
}

}  // namespace

http::Reply error_reply(ErrorCode code, bool close) { return http::json_error(code, http_status(code), close); }

http::Reply no_content(bool close) {
  http::Reply reply;
  reply.status = 204;
  reply.close = close;
  return reply;
}

json to_json(const FinalResult& result) {
  return {{"status", "complete"},
          {"token", result.token},
          {"identifier", result.identifier},
          {"fileName", result.file_name},
          {"size", result.size},
          {"chunkCount", field_number(result.protocol_fields, chunk_count_field)},
          {"fileDigest", core::to_hex(result.digest)},
          {"digestAlgorithm", core::tree_digest_name}};
}

json chunk_stored_json(std::uint64_t number, const PieceStored& stored, std::uint64_t chunk_count) {
  json body = {{"status", "chunk_stored"},
               {"chunk", number},
               {"received", stored.stored_pieces},
               {"chunkCount", chunk_count}};
  if (stored.duplicate) body["duplicate"] = true;
  return body;
}

std::optional<json> to_json(const UploadState& state) {
  const std::uint64_t chunk_size = field_number(state.protocol_fields, chunk_size_field);
  const std::uint64_t chunk_count = field_number(state.protocol_fields, chunk_count_field);
  if (chunk_size == 0 || chunk_count == 0 || !state.total_size) return std::nullopt;
  json ranges = json::array();
  json digests = json::array();
  for (const auto& piece : state.pieces) {
    const std::uint64_t number = piece.offset / chunk_size + 1;
    if (!ranges.empty() && ranges.back()[1].get<std::uint64_t>() + 1 == number) {
      ranges.back()[1] = number;
    } else {
      ranges.push_back({number, number});
    }
    digests.push_back(core::to_hex(piece.digest));
  }
  return json{{"status", "partial"},
              {"identifier", state.identifier},
              {"fileName", state.file_name},
              {"totalSize", *state.total_size},
              {"chunkSize", chunk_size},
              {"chunkCount", chunk_count},
              {"received", std::move(ranges)},
              {"digests", std::move(digests)},
              {"fileDigest", state.declared_file_digest ? json(core::to_hex(*state.declared_file_digest)) : json()}};
}

http::Reply streamed_status(UploadState first_page,
                            std::function<std::optional<UploadState>(std::uint64_t after_offset)> next_page) {
  http::Reply reply;
  reply.status = 200;
  reply.content_type = "application/json; charset=utf-8";
  reply.stream = [state = std::move(first_page), next_page = std::move(next_page)](
                     const std::function<bool(std::string_view)>& write) mutable {
    const std::uint64_t chunk_size = field_number(state.protocol_fields, chunk_size_field);
    json head = {{"status", "partial"},
                 {"identifier", state.identifier},
                 {"fileName", state.file_name},
                 {"totalSize", state.total_size.value_or(0)},
                 {"chunkSize", chunk_size},
                 {"chunkCount", field_number(state.protocol_fields, chunk_count_field)},
                 {"fileDigest", state.declared_file_digest ? json(core::to_hex(*state.declared_file_digest)) : json()}};
    std::string out = head.dump(-1, ' ', false, json::error_handler_t::replace);
    out.pop_back();  // the closing brace: the two arrays follow
    out += ",\"digests\":[";
    // `received` comes last, from the same pieces as `digests`, so the two always agree even when
    // pieces arrive while the document is written.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    bool first = true;
    for (;;) {
      for (const auto& piece : state.pieces) {
        const std::uint64_t number = piece.offset / chunk_size + 1;
        if (!ranges.empty() && ranges.back().second + 1 == number) {
          ranges.back().second = number;
        } else {
          ranges.emplace_back(number, number);
        }
        out += first ? "\"" : ",\"";
        out += core::to_hex(piece.digest);
        out += '"';
        first = false;
        if (out.size() >= 64 * 1024) {
          if (!write(out)) return;
          out.clear();
        }
      }
      if (!state.more || state.pieces.empty()) break;
      auto page = next_page(state.pieces.back().offset + 1);
      if (!page) break;
      state = std::move(*page);
    }
    out += "],\"received\":[";
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      out += (i == 0 ? "[" : ",[") + std::to_string(ranges[i].first) + "," + std::to_string(ranges[i].second) + "]";
      if (out.size() >= 64 * 1024) {
        if (!write(out)) return;
        out.clear();
      }
    }
    out += "]}";
    write(out);
  };
  return reply;
}

}  // namespace resumable::resumablejs
