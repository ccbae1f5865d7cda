#include "uploader.h"

#include "local_file.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <random>

namespace resumable::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Passes over the file after the server lost chunks it had acknowledged (or answered nonsense):
// bounded, so that a misbehaving server cannot keep the command reading for ever.
constexpr int max_passes = 3;

class FileUpload {
 public:
  FileUpload(const UploadSettings& settings, Protocol& protocol, std::unique_ptr<ProgressSink> progress)
      : settings_(settings), protocol_(protocol), progress_holder_(std::move(progress)), progress_(*progress_holder_),
        random_(std::random_device{}()) {}
  FileUpload(const FileUpload&) = delete;
  FileUpload& operator=(const FileUpload&) = delete;
  ~FileUpload() { stop_requests(); }  // requests' callbacks hold `this`

  // Opens the file and reads chunk 1; false when the file has ended already (a local error).
  bool begin(const std::string& path) {
    report_.path = path;
    std::string error;
    auto file = LocalFile::open(path, settings_.chunk_size, &error);
    if (!file) {
      local_failure(path + ": " + error);
      return false;
    }
    file_.emplace(std::move(*file));
    report_.size = file_->size();
    report_.chunk_count = file_->geometry().chunk_count();
    progress_.begin(file_->name(), file_->size());
    // The identifier needs the first chunk's digest: read it before asking the server anything.
    auto first = file_->read_next(&error);
    if (!first) {
      local_failure(path + ": " + error);
      return false;
    }
    report_.identifier = upload_identifier(file_->name(), file_->size(), file_->modified_ms(), settings_.chunk_size,
                                           first->digest);
    first_ = std::move(*first);
    phase_ = Phase::status;
    return true;
  }

  // Moves the upload on without waiting (the caller polls the network); false once it has ended.
  bool advance(const std::atomic<bool>& interrupted) {
    if (phase_ == Phase::done) return false;
    if (interrupted.load()) {
      stop_requests();
      report_.code = ExitCode::interrupted;
      phase_ = Phase::done;
      progress_.end(snapshot(), "interrupted: run the same command again to resume");
      return false;
    }
    step();
    if (phase_ == Phase::done) return false;
    progress_.update(snapshot());
    return true;
  }

  FileReport report() {
    if (file_) report_.file_digest = file_->file_digest();
    return report_;
  }

  Milliseconds wait_time() const {
    if (can_read()) return Milliseconds(0);
    auto deadline = Clock::now() + Milliseconds(100);
    if (control_retry_at_ && !control_request_) deadline = std::min(deadline, *control_retry_at_);
    for (const auto& [number, pending] : pending_) {
      if (pending.retry_at && !pending.request) deadline = std::min(deadline, *pending.retry_at);
    }
    return std::max(Milliseconds(0), std::chrono::duration_cast<Milliseconds>(deadline - Clock::now()));
  }

 private:
  // resyncing: a chunk met another offset than its own (tus); the status request says where the
  // server stands, and the chunks in pending_ are then stored or sent again.
  enum class Phase { status, uploading, resyncing, deleting, finishing, done };

  struct Pending {
    ReadChunk chunk;
    int attempts = 0;
    std::optional<Clock::time_point> retry_at;
    std::optional<HttpClient::RequestId> request;
    std::uint64_t sent = 0;  // body bytes on the wire in the current attempt
  };

  UploadDescription description() const {
    UploadDescription d;
    d.identifier = report_.identifier;
    d.file_name = file_->name();
    d.size = file_->size();
    d.chunk_size = settings_.chunk_size;
    d.chunk_count = file_->geometry().chunk_count();
    d.file_digest = file_->file_digest();
    return d;
  }

  void local_failure(const std::string& message) {
    report_.code = ExitCode::local_error;
    report_.failure = Failure{"read_error", 0, message, false};
    phase_ = Phase::done;
    if (file_) progress_.end(snapshot(), "failed");
  }

  void step() {
    const auto now = Clock::now();
    switch (phase_) {
      case Phase::status:
      case Phase::resyncing:
      case Phase::finishing:
        if (!control_request_ && (!control_retry_at_ || *control_retry_at_ <= now)) start_status();
        break;
      case Phase::deleting:
        if (!control_request_ && (!control_retry_at_ || *control_retry_at_ <= now)) start_delete();
        break;
      case Phase::uploading:
        fill(now);
        break;
      case Phase::done:
        break;
    }
  }

  // Whether fill() has chunks to read now: then the network is only checked, not waited for.
  bool can_read() const {
    return phase_ == Phase::uploading && (first_ || file_->next_number() <= file_->geometry().chunk_count()) &&
           (result_ || pending_.size() < static_cast<std::size_t>(settings_.parallel));
  }

  // ---- status ----------------------------------------------------------------------------------
  void start_status() {
    control_retry_at_.reset();
    control_request_ = protocol_.request_status(description(), [this](StatusOutcome outcome) {
      control_request_.reset();
      on_status(std::move(outcome));
    });
  }

  void on_status(StatusOutcome outcome) {
    using Kind = StatusOutcome::Kind;
    if (outcome.kind == Kind::failed) {
      retry_control(outcome.failure, outcome.retry_after);
      return;
    }
    control_attempts_ = 0;
    if (outcome.kind == Kind::differs) {
      file_changed();
      return;
    }
    if (outcome.kind == Kind::complete) {
      // Finished already (an earlier run, or the widget): read the rest to check it is this file.
      stop_requests();
      result_ = outcome.result;
      held_.clear();
      stored_bytes_ = file_->size();
      phase_ = Phase::uploading;
      return;
    }
    if (phase_ == Phase::resyncing) {
      resynced(std::move(outcome));
      return;
    }
    const bool finishing = phase_ == Phase::finishing;
    held_digests_ = outcome.kind != Kind::partial || outcome.held_digests;
    held_ = outcome.kind == Kind::partial ? std::move(outcome.held) : std::map<std::uint64_t, std::string>{};
    server_file_digest_ = outcome.kind == Kind::partial ? outcome.file_digest : std::nullopt;
    if (finishing) {
      // Every chunk was acknowledged, yet the upload is not complete: send what it lacks again.
      if (++passes_ > max_passes) {
        fail(ExitCode::network, Failure{"incomplete", 0, "the server keeps losing chunks it acknowledged", false});
        return;
      }
      progress_.note("the server lacks chunks it had acknowledged: sending them again");
      start_pass();
      return;
    }
    if (!held_.empty()) {
      progress_.note("resuming: the server holds " + std::to_string(held_.size()) + " of " +
                     std::to_string(file_->geometry().chunk_count()) + " chunks");
    }
    phase_ = Phase::uploading;
  }

  // After a resync status request: the chunks waiting in pending_ are stored if the server now
  // holds them (a reply that went missing) and sent again if not; if the server holds less than
  // was acknowledged before them, the file is passed over again.
  void resynced(StatusOutcome outcome) {
    if (outcome.kind == StatusOutcome::Kind::absent) {
      upload_gone();
      return;
    }
    held_digests_ = outcome.held_digests;
    held_ = std::move(outcome.held);
    server_file_digest_ = outcome.file_digest;
    phase_ = Phase::uploading;
    const std::uint64_t first_pending = pending_.empty() ? file_->next_number() : pending_.begin()->first;
    for (std::uint64_t number = 1; number < first_pending; ++number) {
      if (!held_.count(number)) {
        lost_acknowledged();
        return;
      }
    }
    for (auto it = pending_.begin(); it != pending_.end();) {
      Pending& pending = it->second;
      if (held_.count(it->first)) {
        ++stored_count_;
        stored_bytes_ += pending.chunk.bytes->size();
        it = pending_.erase(it);
        continue;
      }
      if (!pending.request && !pending.retry_at) send(pending);
      ++it;
    }
  }

  // The server lacks chunks it had acknowledged: another pass over the file, a bounded number of times.
  void lost_acknowledged() {
    if (++passes_ > max_passes) {
      fail(ExitCode::network, Failure{"incomplete", 0, "the server keeps losing chunks it acknowledged", false});
      return;
    }
    progress_.note("the server lacks chunks it had acknowledged: sending them again");
    stop_requests();
    start_pass();
  }

  // The server no longer has the upload (collected, cancelled, or its URL is stale): start afresh.
  void upload_gone() {
    if (++passes_ > max_passes) {
      fail(ExitCode::network, Failure{"upload_not_found", 0, "the server keeps losing the upload", false});
      return;
    }
    progress_.note("the server no longer has the upload: uploading it afresh");
    stop_requests();
    held_.clear();
    result_.reset();
    server_file_digest_.reset();
    start_pass();
  }

  // A fresh pass over the file from chunk 1, skipping what held_ says the server has.
  void start_pass() {
    file_->rewind();
    first_.reset();
    stored_count_ = 0;
    stored_bytes_ = 0;
    report_.chunks_held = 0;
    phase_ = Phase::uploading;
  }

  // ---- a changed file --------------------------------------------------------------------------
  // The server holds other bytes under this file's identifier (same name, size, time and first
  // chunk): delete its part and start over, once. Never mix the two.
  void file_changed() {
    if (report_.restarted) {
      fail(ExitCode::verification,
           Failure{"file_changed", 0, "the server's copy differs from the file again: is it changing while it is read?", false});
      return;
    }
    progress_.note("the server holds other bytes under this file's identifier: the file changed; uploading it afresh");
    report_.restarted = true;
    stop_requests();
    result_.reset();
    held_.clear();
    server_file_digest_.reset();
    control_attempts_ = 0;
    phase_ = Phase::deleting;
  }

  void start_delete() {
    control_retry_at_.reset();
    control_request_ = protocol_.delete_upload(description(), [this](DeleteOutcome outcome) {
      control_request_.reset();
      if (!outcome.deleted) {
        retry_control(outcome.failure, outcome.retry_after);
        return;
      }
      control_attempts_ = 0;
      start_pass();  // until the server confirmed the old part is gone nothing was sent
    });
  }

  void retry_control(const Failure& failure, std::optional<Milliseconds> retry_after) {
    if (failure.retryable && control_attempts_ < settings_.retry.max_retries) {
      ++control_attempts_;
      control_retry_at_ = Clock::now() + delay(control_attempts_, retry_after);
      return;
    }
    fail(failure.retryable ? ExitCode::network : ExitCode::refused, failure);
  }

  // ---- chunks ----------------------------------------------------------------------------------
  void fill(Clock::time_point now) {
    for (auto& [number, pending] : pending_) {
      if (!pending.request && pending.retry_at && *pending.retry_at <= now) send(pending);
    }
    const std::uint64_t count = file_->geometry().chunk_count();
    // Chunks that are only hashed (held by the server, or after the final result) add no request:
    // a few per step, so that the requests in flight keep moving and an interrupt is seen.
    int reads_left = 8;
    while (can_read() && reads_left-- > 0) {
      std::optional<ReadChunk> chunk;
      std::string error;
      if (first_) {
        chunk = std::move(first_);  // chunk 1, read before the status request
        first_.reset();
      } else {
        chunk = file_->read_next(&error);
      }
      if (!chunk) {
        local_failure_in_loop(file_->path() + ": " + error);
        return;
      }
      if (result_) continue;  // only hashing, to check the final result
      const auto held = held_.find(chunk->number);
      if (held != held_.end()) {
        if (held_digests_ && held->second != chunk->digest) {
          file_changed();
          return;
        }
        ++stored_count_;
        stored_bytes_ += chunk->bytes->size();
        ++report_.chunks_held;
        continue;
      }
      auto& pending = pending_[chunk->number];
      pending.chunk = std::move(*chunk);
      send(pending);
    }
    if (phase_ != Phase::uploading || first_ || file_->next_number() <= count) return;
    // Every chunk read: the file digest is known.
    if (server_file_digest_ && *server_file_digest_ != *file_->file_digest()) {
      file_changed();
      return;
    }
    if (result_) {
      verify();
      return;
    }
    if (pending_.empty() && stored_count_ == count) {
      // Every chunk stored yet no final result (its reply went missing): ask for it.
      phase_ = Phase::finishing;
      control_attempts_ = 0;
    }
  }

  void local_failure_in_loop(const std::string& message) {
    stop_requests();
    local_failure(message);
  }

  void send(Pending& pending) {
    pending.retry_at.reset();
    pending.sent = 0;
    const std::uint64_t number = pending.chunk.number;
    pending.request = protocol_.send_chunk(
        description(), ChunkToSend{number, pending.chunk.bytes, pending.chunk.digest},
        [this, number](ChunkOutcome outcome) { on_chunk(number, std::move(outcome)); },
        [this, number](std::uint64_t sent) {
          auto it = pending_.find(number);
          if (it == pending_.end()) return;
          moved_bytes_ += sent - std::min(sent, it->second.sent);
          it->second.sent = std::max(sent, it->second.sent);
        });
  }

  void on_chunk(std::uint64_t number, ChunkOutcome outcome) {
    auto it = pending_.find(number);
    if (it == pending_.end()) return;
    Pending& pending = it->second;
    pending.request.reset();
    using Kind = ChunkOutcome::Kind;
    if (outcome.kind == Kind::complete) {
      ++report_.chunks_sent;
      result_ = outcome.result;
      stop_requests();  // the rest would be duplicates
      stored_count_ = file_->geometry().chunk_count();
      stored_bytes_ = file_->size();
      return;  // fill() reads what is left to read, then verifies
    }
    if (outcome.kind == Kind::stored) {
      ++report_.chunks_sent;
      ++stored_count_;
      stored_bytes_ += pending.chunk.bytes->size();
      pending_.erase(it);
      return;
    }
    pending.sent = 0;
    if (outcome.kind == Kind::resync) {
      // Bounded like retries: a server that keeps moving its offset cannot keep the command going.
      if (++pending.attempts > settings_.retry.max_retries) {
        fail(ExitCode::network, Failure{"offset_mismatch", 409, "the server's offset keeps differing from the command's", false});
        return;
      }
      pending.retry_at.reset();
      if (phase_ == Phase::uploading) {
        phase_ = Phase::resyncing;
        control_attempts_ = 0;
      }
      return;
    }
    if (outcome.kind == Kind::gone) {
      upload_gone();
      return;
    }
    const Failure& failure = outcome.failure;
    if (failure.code == "chunk_conflict" || failure.code == "upload_conflict") {
      file_changed();
      return;
    }
    if (failure.code == "file_digest_mismatch") {
      fail(ExitCode::verification, failure);
      return;
    }
    if (failure.retryable && pending.attempts < settings_.retry.max_retries) {
      ++pending.attempts;
      pending.retry_at = Clock::now() + delay(pending.attempts, outcome.retry_after);
      return;
    }
    fail(failure.retryable ? ExitCode::network : ExitCode::refused, failure);
  }

  // The server's digest of what it stored must equal ours of what we read, whatever led here.
  void verify() {
    const auto d = description();
    if (!protocol_.result_matches(*result_, d)) {
      fail(ExitCode::verification, Failure{"file_digest_mismatch", 0,
                                           "the server's file digest " + result_->file_digest +
                                               " differs from the file's " + d.file_digest.value_or("?"),
                                           false});
      return;
    }
    report_.result = result_;
    report_.code = ExitCode::ok;
    stored_bytes_ = file_->size();
    phase_ = Phase::done;
    progress_.end(snapshot(), "done");
  }

  void fail(ExitCode code, const Failure& failure) {
    stop_requests();
    report_.code = code;
    report_.failure = failure;
    phase_ = Phase::done;
    progress_.end(snapshot(), "failed");
  }

  void stop_requests() {
    for (auto& [number, pending] : pending_) {
      if (pending.request) protocol_.abort(*pending.request);
    }
    pending_.clear();
    if (control_request_) protocol_.abort(*control_request_);
    control_request_.reset();
    control_retry_at_.reset();
  }

  Milliseconds delay(int attempt, std::optional<Milliseconds> retry_after) {
    return retry_delay(settings_.retry, attempt, retry_after, std::uniform_real_distribution<double>(0, 1)(random_));
  }

  // ---- progress --------------------------------------------------------------------------------
  ProgressSnapshot snapshot() {
    ProgressSnapshot s;
    s.total_bytes = file_ ? file_->size() : 0;
    std::uint64_t in_flight = 0;
    bool waiting = !pending_.empty();
    for (const auto& [number, pending] : pending_) {
      in_flight += pending.sent;
      if (pending.request) waiting = false;
    }
    s.done_bytes = std::min(s.total_bytes, stored_bytes_ + in_flight);
    const auto now = Clock::now();
    const std::uint64_t moved = moved_bytes_;
    samples_.emplace_back(now, moved);
    while (samples_.size() > 2 && now - samples_[1].first >= std::chrono::seconds(5)) samples_.pop_front();
    const double elapsed = std::chrono::duration<double>(now - samples_.front().first).count();
    if (elapsed >= 0.5) s.bytes_per_second = static_cast<double>(moved - std::min(moved, samples_.front().second)) / elapsed;
    s.state = phase_ == Phase::done ? "" : phase_ == Phase::status || phase_ == Phase::resyncing ? "asking the server"
              : phase_ == Phase::deleting ? "restarting"
              : phase_ == Phase::finishing || result_ ? "verifying" : waiting ? "retrying" : "uploading";
    return s;
  }

  const UploadSettings& settings_;
  Protocol& protocol_;
  std::unique_ptr<ProgressSink> progress_holder_;
  ProgressSink& progress_;
  std::mt19937_64 random_;

  FileReport report_;
  std::optional<LocalFile> file_;
  std::optional<ReadChunk> first_;  // chunk 1, read before the status request
  Phase phase_ = Phase::status;
  std::map<std::uint64_t, Pending> pending_;  // read, not yet stored: in flight or waiting to retry
  std::map<std::uint64_t, std::string> held_;  // what the server held at the status request
  bool held_digests_ = true;                   // held_ has the server's digests (not so for tus)
  std::optional<std::string> server_file_digest_;
  std::optional<FinalResult> result_;
  std::optional<HttpClient::RequestId> control_request_;  // the status or delete request
  std::optional<Clock::time_point> control_retry_at_;
  int control_attempts_ = 0;
  int passes_ = 0;
  std::uint64_t stored_count_ = 0;
  std::uint64_t stored_bytes_ = 0;
  std::uint64_t moved_bytes_ = 0;  // body bytes put on the wire in this run, retries included: the speed
  std::deque<std::pair<Clock::time_point, std::uint64_t>> samples_;
};

}  // namespace

void upload_files(const std::vector<std::string>& paths, const UploadSettings& settings, HttpClient& http,
                  Protocol& protocol, const ProgressFactory& make_sink, const std::atomic<bool>& interrupted,
                  const OnReport& on_report) {
  struct Active {
    std::size_t index;
    std::unique_ptr<FileUpload> upload;
  };
  std::vector<Active> active;
  const std::size_t at_once = static_cast<std::size_t>(std::max(1, settings.files_at_once));
  std::size_t next = 0;
  for (;;) {
    while (!interrupted.load() && active.size() < at_once && next < paths.size()) {
      const std::size_t index = next++;
      auto upload = std::make_unique<FileUpload>(settings, protocol, make_sink());
      if (!upload->begin(paths[index])) {
        on_report(index, upload->report());
        continue;
      }
      active.push_back({index, std::move(upload)});
    }
    if (active.empty()) return;
    auto wait = Milliseconds(100);
    for (auto it = active.begin(); it != active.end();) {
      if (!it->upload->advance(interrupted)) {
        on_report(it->index, it->upload->report());
        it = active.erase(it);
        continue;
      }
      wait = std::min(wait, it->upload->wait_time());
      ++it;
    }
    if (!active.empty()) http.poll(wait);
  }
}

}  // namespace resumable::cli
