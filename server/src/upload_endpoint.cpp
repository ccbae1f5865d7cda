// The protocol handler: HTTP in, UploadRegistry calls, JSON out. It knows no disk (storage is
// behind UploadStorage) and never lets an exception reach CivetWeb.
#include "resumable/upload_endpoint.h"

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <map>
#include <thread>

#include "body_watchdog.h"
#include "buffer_pool.h"
#include "http_reply.h"
#include "resumable/asset_handler.h"
#include "resumable/widget_assets.h"
#include "request_params.h"
#include "upload_registry.h"

namespace resumable {

namespace {

constexpr std::size_t max_multipart_fields = 32;

bool header_equals(mg_connection* connection, const char* name, const char* expected) {
  const char* value = mg_get_header(connection, name);
  return value != nullptr && mg_strcasecmp(value, expected) == 0;
}

bool is_multipart(mg_connection* connection) {
  const char* type = mg_get_header(connection, "Content-Type");
  return type != nullptr && mg_strncasecmp(type, "multipart/form-data", 19) == 0;
}

// CivetWeb does not answer `Expect: 100-continue` for request handlers; clients such as curl then
// wait a second before sending the body. Call this only once the body is going to be read.
void continue_if_expected(mg_connection* connection, bool& sent) {
  if (!sent && header_equals(connection, "Expect", "100-continue")) {
    mg_printf(connection, "HTTP/1.1 100 Continue\r\n\r\n");
  }
  sent = true;
}

void reply(mg_connection* connection, const ChunkOutcome& outcome, bool close = false) {
  if (const auto* error = std::get_if<ErrorCode>(&outcome)) {
    send_error(connection, *error, close);
  } else if (const auto* stored = std::get_if<ChunkStored>(&outcome)) {
    send_json(connection, 200, to_json(*stored), close);
  } else {
    send_json(connection, 200, to_json(std::get<FinalResult>(outcome)), close);
  }
}

// What a chunk request decided before its body: write it, or read and discard it and then answer.
struct ChunkPlan {
  std::optional<ChunkWriter> writer;
  std::optional<ChunkOutcome> answer;  // for duplicates and finished uploads
  bool duplicate = false;
};

void make_plan(ChunkPlan& plan, ChunkStart start) {
  if (auto* writer = std::get_if<ChunkWriter>(&start)) {
    plan.writer.emplace(std::move(*writer));
  } else if (auto* error = std::get_if<ErrorCode>(&start)) {
    plan.answer = *error;
  } else if (auto* stored = std::get_if<ChunkStored>(&start)) {
    plan.answer = *stored;
    plan.duplicate = true;
  } else {
    plan.answer = std::get<FinalResult>(start);
  }
}

}  // namespace

struct UploadEndpoint::Impl {
  EndpointOptions options;
  std::shared_ptr<UploadStorage> storage;
  std::unique_ptr<BufferPool> buffers;    // body buffers of all requests
  std::unique_ptr<BodyWatchdog> body_watchdog;  // null when limits.body_min_rate is 0
  std::unique_ptr<WritePool> write_pool;  // shared by all requests; declared first, so destroyed last
  std::unique_ptr<UploadRegistry> registry;
  std::vector<std::unique_ptr<AssetHandler>> widget_handlers;  // one per mount

  std::mutex janitor_mutex;
  std::condition_variable janitor_wake;
  bool stopping = false;
  std::thread janitor;

  ~Impl() {
    {
      std::lock_guard lock(janitor_mutex);
      stopping = true;
    }
    janitor_wake.notify_all();
    if (janitor.joinable()) janitor.join();
  }

  void log(const std::string& message) const {
    if (options.log) {
      options.log(message);
    } else {
      std::fprintf(stderr, "resumable: %s\n", message.c_str());
    }
  }

  // nullopt: refused (the reply has been sent).
  std::optional<std::string> authorize(mg_connection* connection) const {
    if (options.verify_request && !options.verify_request(connection)) {
      send_error(connection, ErrorCode::forbidden, true);
      return std::nullopt;
    }
    std::optional<Principal> found;
    if (options.authenticate) found = options.authenticate(connection);
    const bool authenticated = found.has_value() && !found->id.empty();  // "" is reserved for anonymous
    const std::string id = authenticated ? found->id : std::string();
    const bool staff = authenticated && found->is_staff;
    if (options.access == Access::anonymous_allowed) return id;
    if (!authenticated) {
      send_error(connection, ErrorCode::unauthenticated, true);
      return std::nullopt;
    }
    if (options.access == Access::staff_required && !staff) {
      send_error(connection, ErrorCode::forbidden, true);
      return std::nullopt;
    }
    return id;
  }

  ParamLookup query(mg_connection* connection) const {
    return query_lookup(mg_get_request_info(connection)->query_string, options.limits.max_relative_path_bytes);
  }

  int handle_base(mg_connection* connection) {
    const char* method = mg_get_request_info(connection)->request_method;
    const bool is_get = std::strcmp(method, "GET") == 0;
    const bool is_upload = std::strcmp(method, "POST") == 0 || std::strcmp(method, "PUT") == 0;
    const bool is_delete = std::strcmp(method, "DELETE") == 0;
    if (!is_get && !is_upload && !is_delete) {
      send_method_not_allowed(connection, "GET, POST, PUT, DELETE");
      return 405;
    }
    const auto principal = authorize(connection);
    if (!principal) return 401;
    if (is_get) return handle_test(connection, *principal);
    if (is_delete) return handle_cancel(connection, *principal);
    return is_multipart(connection) ? handle_multipart_chunk(connection, *principal)
                                    : handle_raw_chunk(connection, *principal);
  }

  int handle_unknown(mg_connection* connection) {
    send_error(connection, ErrorCode::not_found, true);
    return 404;
  }

  int handle_status_route(mg_connection* connection) {
    if (std::strcmp(mg_get_request_info(connection)->request_method, "GET") != 0) {
      send_method_not_allowed(connection, "GET");
      return 405;
    }
    const auto principal = authorize(connection);
    if (!principal) return 401;
    const auto identifier = parse_identifier(query(connection), options.limits);
    if (const auto* error = std::get_if<ErrorCode>(&identifier)) {
      send_error(connection, *error);
      return error_info(*error).http_status;
    }
    const auto outcome = registry->status(*principal, std::get<std::string>(identifier));
    if (const auto* error = std::get_if<ErrorCode>(&outcome)) {
      send_error(connection, *error);
    } else if (const auto* status = std::get_if<UploadStatus>(&outcome)) {
      send_json(connection, 200, to_json(*status));
    } else {
      send_json(connection, 200, to_json(std::get<FinalResult>(outcome)));
    }
    return 200;
  }

  int handle_test(mg_connection* connection, const std::string& principal) {
    const auto parsed = parse_chunk_request(query(connection), options.limits);
    if (const auto* error = std::get_if<ErrorCode>(&parsed)) {
      send_error(connection, *error);
      return error_info(*error).http_status;
    }
    const auto outcome = registry->test_chunk(principal, std::get<ChunkRequest>(parsed));
    if (const auto* error = std::get_if<ErrorCode>(&outcome)) {
      send_error(connection, *error);
    } else if (const auto* result = std::get_if<TestResult>(&outcome)) {
      if (*result == TestResult::absent) {
        send_no_content(connection);
        return 204;
      }
      send_json(connection, 200, {{"status", "chunk_present"}, {"chunk", std::get<ChunkRequest>(parsed).number}});
    } else {
      send_json(connection, 200, to_json(std::get<FinalResult>(outcome)));
    }
    return 200;
  }

  int handle_cancel(mg_connection* connection, const std::string& principal) {
    const auto identifier = parse_identifier(query(connection), options.limits);
    if (const auto* error = std::get_if<ErrorCode>(&identifier)) {
      send_error(connection, *error);
      return error_info(*error).http_status;
    }
    registry->cancel(principal, std::get<std::string>(identifier));
    send_no_content(connection);
    return 204;
  }

  // After a duplicate, finishing an upload whose release failed earlier (e.g. a full disk) is retried.
  ChunkOutcome settle(const std::string& principal, const ChunkRequest& request, ChunkPlan& plan, ReadBack& read_back) {
    if (plan.duplicate) {
      if (auto finished = registry->resume_finalization(principal, request.identifier, read_back)) return *finished;
    }
    return *plan.answer;
  }

  std::unique_ptr<BodyWatchdog::Watch> watch_body(const mg_connection* connection) {
    return body_watchdog ? body_watchdog->watch(connection) : nullptr;
  }

  int handle_raw_chunk(mg_connection* connection, const std::string& principal) {
    const auto parsed = parse_chunk_request(query(connection), options.limits);
    if (const auto* error = std::get_if<ErrorCode>(&parsed)) {
      send_error(connection, *error, true);
      return error_info(*error).http_status;
    }
    const auto& request = std::get<ChunkRequest>(parsed);
    if (auto error = registry->validate(request)) {
      send_error(connection, *error, true);
      return error_info(*error).http_status;
    }
    const long long declared_length = mg_get_request_info(connection)->content_length;
    if (declared_length >= 0 && static_cast<std::uint64_t>(declared_length) != request.current_size) {
      send_error(connection, ErrorCode::invalid_body, true);
      return 400;
    }
    // Declared before the plan: queued writes must finish before a ChunkWriter gives its chunk back.
    WriteBehind write_behind(write_pool.get(), *buffers, options.limits.io_buffers);
    ChunkPlan plan;
    make_plan(plan, registry->begin_chunk(principal, request));
    if (!plan.writer && std::holds_alternative<ErrorCode>(*plan.answer)) {
      reply(connection, *plan.answer, true);
      return 400;
    }
    if (plan.writer) plan.writer->use_write_behind(write_behind);
    bool continued = false;
    continue_if_expected(connection, continued);
    const auto watch = watch_body(connection);
    // Read the whole body (writing it, or discarding it for a duplicate), but never more than the
    // chunk can hold: one byte over is enough to know the body is wrong.
    std::uint64_t received = 0;
    for (;;) {
      const auto buffer = write_behind.next_buffer();
      const std::uint64_t room = request.current_size - std::min(received, request.current_size) + 1;
      const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), room));
      const int n = mg_read(connection, buffer.data(), want);
      if (watch && watch->expired()) {
        send_error(connection, ErrorCode::body_too_slow, true);  // the writer gives back the chunk
        return 408;
      }
      if (n < 0) return 1;  // connection broken or timed out: nothing to answer; the writer gives back the chunk
      if (n == 0) break;
      received += static_cast<std::uint64_t>(n);
      if (watch) watch->received(received);
      if (received > request.current_size) {
        send_error(connection, ErrorCode::invalid_body, true);
        return 400;
      }
      if (plan.writer && !plan.writer->write_received(buffer.first(static_cast<std::size_t>(n)))) {
        send_error(connection, *plan.writer->error(), true);
        return error_info(*plan.writer->error()).http_status;
      }
    }
    write_behind.drain();
    ReadBack read_back(write_behind);  // the ring reads back chunks that arrived ahead of the file hash
    if (!plan.writer) {
      if (received != request.current_size) {
        send_error(connection, ErrorCode::incomplete_body, true);
        return 422;
      }
      reply(connection, settle(principal, request, plan, read_back));
      return 200;
    }
    reply(connection, plan.writer->finish(read_back));
    return 200;
  }

  // Multipart: parameters come from the query string and the fields before the `file` part.
  struct MultipartState {
    Impl* endpoint;
    const std::string* principal;
    mg_connection* connection;
    bool* continued;
    std::map<std::string, std::string> fields;
    std::string current_field;
    bool in_file = false;
    bool file_seen = false;
    std::optional<ErrorCode> error;
    std::optional<ChunkRequest> request;
    ChunkPlan plan;
    std::uint64_t received = 0;
    BodyWatchdog::Watch* watch;
  };

  static int on_field_found(const char* key, const char* filename, char*, std::size_t, void* user_data) {
    auto& state = *static_cast<MultipartState*>(user_data);
    state.in_file = false;
    if (state.error) return MG_FORM_FIELD_STORAGE_ABORT;
    const std::string name = key != nullptr ? key : "";
    // CivetWeb passes "" (not NULL) as the file name of plain fields.
    const bool has_file_name = filename != nullptr && *filename != '\0';
    if (name == "file") {
      if (state.file_seen) return MG_FORM_FIELD_STORAGE_SKIP;
      state.file_seen = true;
      return state.endpoint->start_multipart_file(state);
    }
    if (has_file_name || state.file_seen) return MG_FORM_FIELD_STORAGE_SKIP;  // other files; late fields
    if (state.fields.size() >= max_multipart_fields) {
      state.error = ErrorCode::invalid_parameter;
      return MG_FORM_FIELD_STORAGE_ABORT;
    }
    state.current_field = name;
    state.fields[name];
    return MG_FORM_FIELD_STORAGE_GET;
  }

  static int on_field_get(const char*, const char* value, std::size_t length, void* user_data) {
    auto& state = *static_cast<MultipartState*>(user_data);
    if (state.error) return MG_FORM_FIELD_HANDLE_ABORT;
    if (!state.in_file) {
      auto& field = state.fields[state.current_field];
      if (field.size() + length > state.endpoint->options.limits.max_relative_path_bytes) {
        state.error = ErrorCode::invalid_parameter;
        return MG_FORM_FIELD_HANDLE_ABORT;
      }
      field.append(value, length);
      return MG_FORM_FIELD_HANDLE_GET;
    }
    state.received += length;
    if (state.watch != nullptr) state.watch->received(state.received);
    if (state.received > state.request->current_size) {
      state.error = ErrorCode::invalid_body;
      return MG_FORM_FIELD_HANDLE_ABORT;
    }
    if (state.plan.writer && !state.plan.writer->write(reinterpret_cast<const std::uint8_t*>(value), length)) {
      state.error = state.plan.writer->error();
      return MG_FORM_FIELD_HANDLE_ABORT;
    }
    return MG_FORM_FIELD_HANDLE_GET;
  }

  static int on_field_stored(const char*, long long, void*) { return MG_FORM_FIELD_HANDLE_NEXT; }

  int start_multipart_file(MultipartState& state) {
    const auto query_params = query(state.connection);
    const auto& fields = state.fields;
    const std::size_t max_bytes = options.limits.max_relative_path_bytes;
    const ParamLookup lookup = [&](std::string_view name) -> std::optional<ParamValue> {
      if (auto it = fields.find(std::string(name)); it != fields.end()) {
        return ParamValue{it->second, it->second.size() > max_bytes};
      }
      return query_params(name);
    };
    auto parsed = parse_chunk_request(lookup, options.limits);
    if (auto* error = std::get_if<ErrorCode>(&parsed)) {
      state.error = *error;
      return MG_FORM_FIELD_STORAGE_ABORT;
    }
    state.request = std::get<ChunkRequest>(parsed);
    make_plan(state.plan, registry->begin_chunk(*state.principal, *state.request));
    if (!state.plan.writer && std::holds_alternative<ErrorCode>(*state.plan.answer)) {
      state.error = std::get<ErrorCode>(*state.plan.answer);
      return MG_FORM_FIELD_STORAGE_ABORT;
    }
    state.in_file = true;
    return MG_FORM_FIELD_STORAGE_GET;
  }

  int handle_multipart_chunk(mg_connection* connection, const std::string& principal) {
    bool continued = false;
    // resumable.js also sends every parameter in the query string: refuse a bad chunk before its body.
    if (auto early = parse_chunk_request(query(connection), options.limits); std::holds_alternative<ChunkRequest>(early)) {
      if (auto error = registry->validate(std::get<ChunkRequest>(early))) {
        send_error(connection, *error, true);
        return error_info(*error).http_status;
      }
    }
    continue_if_expected(connection, continued);
    MultipartState state{this, &principal, connection, &continued, {}, {}, false, false, {}, {}, {}, 0, nullptr};
    mg_form_data_handler handler{&on_field_found, &on_field_get, &on_field_stored, &state};
    const auto watch = watch_body(connection);
    state.watch = watch.get();
    const int handled = mg_handle_form_request(connection, &handler);
    if (watch && watch->expired()) {
      send_error(connection, ErrorCode::body_too_slow, true);  // the writer gives back the chunk
      return 408;
    }
    if (state.error) {
      send_error(connection, *state.error, true);
      return error_info(*state.error).http_status;
    }
    // CivetWeb gives up on a multipart body cut short before its file part (handled < 0): that is an
    // incomplete body a retry can fix, not a malformed one.
    if (!state.file_seen && handled >= 0) {
      send_error(connection, ErrorCode::invalid_body, true);
      return 400;
    }
    if (handled < 0 || !state.request || state.received != state.request->current_size) {
      // Ended early: a broken multipart body or a dropped connection. Nothing is recorded.
      send_error(connection, ErrorCode::incomplete_body, true);
      return 422;
    }
    WriteBehind ring(write_pool.get(), *buffers, options.limits.io_buffers);
    ReadBack read_back(ring);  // reads back chunks that arrived ahead of the file hash
    if (state.plan.writer) {
      reply(connection, state.plan.writer->finish(read_back));
    } else {
      reply(connection, settle(principal, *state.request, state.plan, read_back));
    }
    return 200;
  }

  // CivetWeb entry points: no exception may cross into CivetWeb.
  template <int (Impl::*Route)(mg_connection*)>
  static int guarded(mg_connection* connection, void* self) {
    auto* impl = static_cast<Impl*>(self);
    try {
      return (impl->*Route)(connection);
    } catch (const std::exception& e) {
      impl->log(std::string("request failed: ") + e.what());
    } catch (...) {
      impl->log("request failed");
    }
    // Only allocation or JSON can throw here; nothing has been sent for this request yet.
    send_error(connection, ErrorCode::internal_error, true);
    return 500;
  }

  void run_janitor() {
    std::unique_lock lock(janitor_mutex);
    while (!stopping) {
      janitor_wake.wait_for(lock, options.collect_interval, [&] { return stopping; });
      if (stopping) break;
      lock.unlock();
      const auto report = registry->collect_stale(std::chrono::system_clock::now());
      if (report.stale_removed + report.unclaimed_removed > 0) {
        log("collected " + std::to_string(report.stale_removed) + " stale and " +
            std::to_string(report.unclaimed_removed) + " unclaimed uploads");
      }
      lock.lock();
    }
  }
};

std::unique_ptr<UploadEndpoint> UploadEndpoint::create(EndpointOptions options, std::string* error) {
  try {
    if (!core::initialize_crypto()) {
      if (error != nullptr) *error = "libsodium failed to initialise";
      return nullptr;
    }
    const auto& limits = options.limits;
    if (limits.io_buffer_bytes < 4096 || limits.io_buffers == 0 || limits.max_chunks == 0 || limits.min_chunk_size == 0 ||
        limits.min_chunk_size > limits.max_chunk_size) {
      if (error != nullptr) *error = "inconsistent limits";
      return nullptr;
    }
    auto impl = std::make_unique<Impl>();
    impl->storage = options.storage;
    if (!impl->storage) {
      impl->storage = make_filesystem_storage(
          FilesystemStorageOptions{options.chunk_dir, options.upload_to, options.durable, true}, error);
      if (!impl->storage) return nullptr;
    }
    impl->options = std::move(options);
    impl->buffers = std::make_unique<BufferPool>(impl->options.limits.io_buffer_bytes, impl->options.limits.idle_io_buffers);
    if (impl->options.limits.body_min_rate > 0) {
      impl->body_watchdog = std::make_unique<BodyWatchdog>(impl->options.limits.body_grace,
                                                           impl->options.limits.body_min_rate,
                                                           impl->options.limits.io_buffer_bytes);
    }
    if (impl->options.limits.write_threads > 0) {
      impl->write_pool = std::make_unique<WritePool>(impl->options.limits.write_threads);
    }
    Impl* raw = impl.get();
    impl->registry = std::make_unique<UploadRegistry>(
        impl->storage, impl->options.limits, impl->options.on_complete,
        [raw](const std::string& message) { raw->log(message); });
    impl->registry->load();
    if (impl->options.collect_interval.count() > 0) impl->janitor = std::thread([raw] { raw->run_janitor(); });
    return std::unique_ptr<UploadEndpoint>(new UploadEndpoint(std::move(impl)));
  } catch (const std::exception& e) {
    if (error != nullptr) *error = e.what();
    return nullptr;
  }
}

UploadEndpoint::UploadEndpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
UploadEndpoint::~UploadEndpoint() = default;

void UploadEndpoint::mount(mg_context* context, const std::string& base) {
  // `$` anchors the pattern: "/upload" would otherwise also catch "/upload-form".
  // CivetWeb copies the patterns.
  mg_set_request_handler(context, (base + "$").c_str(), &Impl::guarded<&Impl::handle_base>, impl_.get());
  mg_set_request_handler(context, (base + "/status$").c_str(), &Impl::guarded<&Impl::handle_status_route>,
                         impl_.get());
  if (impl_->options.serve_widget) {
    impl_->widget_handlers.push_back(std::make_unique<AssetHandler>(widget::embedded_assets(), base + "/widget"));
    impl_->widget_handlers.back()->mount(context);
  }
  // Registered last: CivetWeb tries handlers in registration order, first match wins.
  mg_set_request_handler(context, (base + "/**").c_str(), &Impl::guarded<&Impl::handle_unknown>, impl_.get());
}

std::variant<ErrorCode, ClaimedUpload> UploadEndpoint::claim_upload(const std::string& token,
                                                                    const std::string& principal) {
  return impl_->registry->claim(token, principal);
}

CollectionReport UploadEndpoint::collect_stale() {
  return impl_->registry->collect_stale(std::chrono::system_clock::now());
}

std::vector<UploadSummary> UploadEndpoint::list_uploads() { return impl_->registry->list_uploads(); }

std::size_t UploadEndpoint::per_request_buffer_bytes() const {
  const auto& limits = impl_->options.limits;
  return limits.io_buffer_bytes * (limits.write_threads > 0 ? limits.io_buffers : 1);
}

int json_http_error(mg_connection* connection, int status, const char*) {
  switch (status) {
    case 400:  // "Malformed message": unparsable, over max_request_size or cut off by the timeout
    case 413:  // "Message too large", "URI too long", "Header fields too large" in other versions
    case 414:
    case 431:
      break;
    default:
      return 1;
  }
  try {
    send_error(connection, ErrorCode::malformed_request, true);
  } catch (...) {
    return 1;  // let CivetWeb answer with its own page
  }
  return 0;
}

}  // namespace resumable
