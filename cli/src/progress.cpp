#include "progress.h"

#include <cmath>

namespace resumable::cli {

namespace {

using Clock = std::chrono::steady_clock;

std::string percent(const ProgressSnapshot& s) {
  const double ratio = s.total_bytes == 0 ? 1.0 : static_cast<double>(s.done_bytes) / static_cast<double>(s.total_bytes);
  return std::to_string(static_cast<int>(std::floor(ratio * 100))) + "%";
}

class TerminalProgress final : public ProgressSink {
 public:
  explicit TerminalProgress(std::FILE* out) : out_(out) {}
  void begin(const std::string& name, std::uint64_t) override {
    name_ = name;
    last_ = {};
  }
  void update(const ProgressSnapshot& snapshot) override {
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    draw(snapshot);
  }
  void note(const std::string& message) override {
    std::fprintf(out_, "\r\x1b[K%s: %s\n", name_.c_str(), message.c_str());
    std::fflush(out_);
  }
  void end(const ProgressSnapshot& snapshot, const std::string& outcome) override {
    draw(snapshot, outcome);
    std::fputc('\n', out_);
    std::fflush(out_);
  }

 private:
  void draw(const ProgressSnapshot& snapshot, const std::string& outcome = "") {
    std::string line = progress_line(name_, snapshot);
    if (!outcome.empty()) line += "  " + outcome;
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());  // in place; erase what a longer line left
    std::fflush(out_);
  }
  std::FILE* out_;
  std::string name_;
  Clock::time_point last_{};
};

class PlainProgress final : public ProgressSink {
 public:
  PlainProgress(std::FILE* out, Milliseconds interval) : out_(out), interval_(interval) {}
  void begin(const std::string& name, std::uint64_t) override {
    name_ = name;
    last_ = Clock::now();
  }
  void update(const ProgressSnapshot& snapshot) override {
    const auto now = Clock::now();
    if (now - last_ < interval_) return;
    last_ = now;
    std::fprintf(out_, "%s\n", progress_line(name_, snapshot).c_str());
    std::fflush(out_);
  }
  void note(const std::string& message) override {
    std::fprintf(out_, "%s: %s\n", name_.c_str(), message.c_str());
    std::fflush(out_);
  }
  void end(const ProgressSnapshot& snapshot, const std::string& outcome) override {
    std::fprintf(out_, "%s  %s\n", progress_line(name_, snapshot).c_str(), outcome.c_str());
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  Milliseconds interval_;
  std::string name_;
  Clock::time_point last_{};
};

class QuietProgress final : public ProgressSink {
 public:
  void begin(const std::string&, std::uint64_t) override {}
  void update(const ProgressSnapshot&) override {}
  void note(const std::string&) override {}
  void end(const ProgressSnapshot&, const std::string&) override {}
};

}  // namespace

std::unique_ptr<ProgressSink> make_progress(ProgressMode mode, std::FILE* out, Milliseconds plain_interval) {
  switch (mode) {
    case ProgressMode::terminal: return std::make_unique<TerminalProgress>(out);
    case ProgressMode::plain: return std::make_unique<PlainProgress>(out, plain_interval);
    case ProgressMode::quiet: break;
  }
  return std::make_unique<QuietProgress>();
}

std::string format_bytes(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return text;
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(std::ceil(std::max(0.0, seconds)));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
  }
  return text;
}

std::string progress_line(const std::string& name, const ProgressSnapshot& s) {
  std::string line = name + "  " + format_bytes(static_cast<double>(s.done_bytes)) + " / " +
                     format_bytes(static_cast<double>(s.total_bytes)) + "  " + percent(s);
  if (s.bytes_per_second > 0) {
    line += "  " + format_bytes(s.bytes_per_second) + "/s";
    if (s.total_bytes > s.done_bytes) {
      line += "  " + format_duration(static_cast<double>(s.total_bytes - s.done_bytes) / s.bytes_per_second) + " left";
    }
  }
  if (!s.state.empty() && s.state != "uploading") line += "  (" + s.state + ")";
  return line;
}

}  // namespace resumable::cli
