// The digest command (docs/digest.md): prints or checks tree digests of files, like b2sum. Shared by
// `resumable-digest` and `resumable digest`; see digest_command.h.
#include "digest_command.h"

#include "resumable/tree_digest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

using resumable::core::Digest;

// The name errors and usage are printed under ("resumable-digest" or "resumable digest").
std::string program = "resumable-digest";
constexpr std::size_t read_buffer_bytes = resumable::core::leaf_bytes;

void print_error(const std::string& message) { std::fprintf(stderr, "%s: %s\n", program.c_str(), message.c_str()); }

// A file descriptor open for reading, closed on destruction; "-" is standard input, left open.
class InputFile {
 public:
  // nullopt with *error set (the system's reason) if the file cannot be opened.
  static std::optional<InputFile> open(const std::string& name, std::string* error) {
    if (name == "-") return InputFile(STDIN_FILENO, false);
    const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      *error = std::strerror(errno);
      return std::nullopt;
    }
    return InputFile(fd, true);
  }
  InputFile(InputFile&& other) noexcept : fd_(std::exchange(other.fd_, -1)), owned_(other.owned_) {}
  InputFile& operator=(InputFile&&) = delete;
  InputFile(const InputFile&) = delete;
  ~InputFile() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }

  // Bytes read (0 at the end of the file), or -1 with errno set.
  ssize_t read(std::uint8_t* buffer, std::size_t capacity) {
    ssize_t n;
    do {
      n = ::read(fd_, buffer, capacity);
    } while (n < 0 && errno == EINTR);
    return n;
  }

 private:
  InputFile(int fd, bool owned) : fd_(fd), owned_(owned) {}
  int fd_;
  bool owned_;
};

// The file digest of a named file (one pass over its bytes), or nullopt with *error set.
std::optional<Digest> digest_file(const std::string& name, std::vector<std::uint8_t>& buffer, std::string* error) {
  auto file = InputFile::open(name, error);
  if (!file) return std::nullopt;
  resumable::core::LeafHasher leaves;
  resumable::core::FileDigestHasher root;
  const auto add = [&root](const resumable::core::Leaf& leaf) { root.add_leaf(leaf.digest); };
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t n = file->read(buffer.data(), buffer.size());
    if (n < 0) {
      *error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) break;
    leaves.update(std::span(buffer.data(), static_cast<std::size_t>(n)), add);
    size += static_cast<std::uint64_t>(n);
  }
  leaves.finish(add);
  return root.finish(size);  // every leaf was added: never nullopt
}

// coreutils' convention: a name with a backslash or newline is written escaped after a leading '\'.
std::pair<std::string_view, std::string> escape_name(const std::string& name) {
  if (name.find_first_of("\\\n") == std::string::npos) return {"", name};
  std::string out;
  for (const char c : name) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return {"\\", out};
}

std::optional<std::string> unescape_name(std::string_view name) {
  std::string out;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '\\') {
      out += name[i];
      continue;
    }
    if (i + 1 >= name.size() || (name[i + 1] != '\\' && name[i + 1] != 'n')) return std::nullopt;
    out += name[i + 1] == 'n' ? '\n' : '\\';
    ++i;
  }
  return out;
}

struct CheckLine {
  Digest digest;
  std::string name;
};

// "<64 hex>  <name>" or "<64 hex> *<name>", optionally escaped; nullopt if malformed.
std::optional<CheckLine> parse_check_line(std::string_view line) {
  const bool escaped = !line.empty() && line.front() == '\\';
  if (escaped) line.remove_prefix(1);
  if (line.size() <= resumable::core::digest_hex_chars + 2) return std::nullopt;
  const auto digest = resumable::core::digest_from_hex(line.substr(0, resumable::core::digest_hex_chars));
  const auto separator = line.substr(resumable::core::digest_hex_chars, 2);
  if (!digest || (separator != "  " && separator != " *")) return std::nullopt;
  const auto name = line.substr(resumable::core::digest_hex_chars + 2);
  if (name.find('\0') != std::string_view::npos) return std::nullopt;  // no file has such a name
  if (!escaped) return CheckLine{*digest, std::string(name)};
  auto unescaped = unescape_name(name);
  if (!unescaped) return std::nullopt;
  return CheckLine{*digest, std::move(*unescaped)};
}

int print_digests(const std::vector<std::string>& names) {
  std::vector<std::uint8_t> buffer(read_buffer_bytes);
  int status = 0;
  for (const auto& name : names) {
    std::string error;
    const auto digest = digest_file(name, buffer, &error);
    if (!digest) {
      print_error(name + ": " + error);
      status = 1;
      continue;
    }
    const auto [prefix, shown] = escape_name(name);
    std::printf("%.*s%s  %s\n", static_cast<int>(prefix.size()), prefix.data(),
                resumable::core::to_hex(*digest).c_str(), shown.c_str());
  }
  return status;
}

// The whole list, or nullopt with *error set. Lists are small: one line per file.
std::optional<std::string> read_list(const std::string& name, std::string* error) {
  auto file = InputFile::open(name, error);
  if (!file) return std::nullopt;
  std::string text;
  std::vector<std::uint8_t> buffer(64 * 1024);
  for (;;) {
    const ssize_t n = file->read(buffer.data(), buffer.size());
    if (n < 0) {
      *error = std::strerror(errno);
      return std::nullopt;
    }
    if (n == 0) return text;
    text.append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(n));
  }
}

void warn_count(std::size_t count, const char* one, const char* many) {
  if (count > 0) print_error("WARNING: " + std::to_string(count) + " " + (count == 1 ? one : many));
}

int check_lists(const std::vector<std::string>& lists) {
  std::vector<std::uint8_t> buffer(read_buffer_bytes);
  int status = 0;
  for (const auto& list_name : lists) {
    std::string error;
    const auto text = read_list(list_name, &error);
    if (!text) {
      print_error(list_name + ": " + error);
      status = 1;
      continue;
    }
    std::size_t mismatched = 0, unreadable = 0, malformed = 0, checked = 0, number = 0;
    for (std::size_t start = 0; start < text->size();) {
      std::size_t end = text->find('\n', start);
      if (end == std::string::npos) end = text->size();
      std::string_view line(text->data() + start, end - start);
      start = end + 1;
      ++number;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || line.front() == '#') continue;  // b2sum skips empty and comment lines
      const auto parsed = parse_check_line(line);
      if (!parsed) {
        print_error(list_name + ": " + std::to_string(number) + ": improperly formatted line");
        ++malformed;
        continue;
      }
      ++checked;
      const auto [prefix, shown] = escape_name(parsed->name);
      const auto actual = digest_file(parsed->name, buffer, &error);
      if (!actual) {
        print_error(parsed->name + ": " + error);
        std::printf("%.*s%s: FAILED open or read\n", static_cast<int>(prefix.size()), prefix.data(), shown.c_str());
        ++unreadable;
      } else if (resumable::core::digests_equal(*actual, parsed->digest)) {
        std::printf("%.*s%s: OK\n", static_cast<int>(prefix.size()), prefix.data(), shown.c_str());
      } else {
        std::printf("%.*s%s: FAILED\n", static_cast<int>(prefix.size()), prefix.data(), shown.c_str());
        ++mismatched;
      }
      std::fflush(stdout);  // in order with the errors on stderr
    }
    if (checked == 0) print_error(list_name + ": no properly formatted digest lines found");
    warn_count(malformed, "line is improperly formatted", "lines are improperly formatted");
    warn_count(unreadable, "listed file could not be read", "listed files could not be read");
    warn_count(mismatched, "computed digest did NOT match", "computed digests did NOT match");
    if (mismatched > 0 || unreadable > 0 || malformed > 0 || checked == 0) status = 1;
  }
  return status;
}

void print_usage(std::FILE* to) {
  std::fprintf(to,
               "usage: %s [-c|--check] [FILE]...\n"
               "Print or check resumable tree digests (docs/digest.md), like b2sum.\n"
               "With no FILE, or when FILE is -, read standard input.\n"
               "  -c, --check  read digests from the FILEs and check them\n"
               "  -h, --help   show this help\n",
               program.c_str());
}

}  // namespace

namespace resumable::tools {

int run_digest_command(std::string_view program_name, std::span<const std::string> args) {
  program = std::string(program_name);
  resumable::core::initialize_crypto();  // only picks the fastest BLAKE2b; digests are right without it
  bool check = false;
  bool options_done = false;
  std::vector<std::string> names;
  for (const std::string& arg_text : args) {
    const std::string_view arg = arg_text;
    if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done && (arg == "-c" || arg == "--check")) {
      check = true;
    } else if (!options_done && (arg == "-h" || arg == "--help")) {
      print_usage(stdout);
      return 0;
    } else if (!options_done && arg.size() > 1 && arg.front() == '-') {
      print_error("unknown option " + std::string(arg));
      print_usage(stderr);
      return 2;
    } else {
      names.emplace_back(arg);
    }
  }
  if (names.empty()) names.emplace_back("-");
  const int status = check ? check_lists(names) : print_digests(names);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    print_error(std::string("write error: ") + std::strerror(errno));
    return 1;
  }
  return status;
}

}  // namespace resumable::tools
