// libFuzzer target: the persisted upload-state reader. Each input becomes one upload directory as a
// crash (or a hostile disk) could leave it: manifest.json, pieces.log (records with leaf digests),
// final.json and the data file, each either a valid template (made by a real upload at start-up)
// with fuzzed damage, or raw fuzz bytes. The upload core then loads it as a restarted server would,
// answers status, tries to finish the upload (passing its recorded pieces and leaves), lists and
// collects it. Nothing may crash, and a released file may only ever appear in upload_to under the
// server's own name.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "record_codec.h"
#include "resumable/filesystem_store.h"
#include "resumable/tree_digest.h"
#include "resumable/upload_core.h"

using namespace resumable;
namespace fs = std::filesystem;

namespace {

struct Templates {
  std::string upload_id;
  std::string manifest, log, final_record;
};
Templates templates;
fs::path root;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

UploadLimits limits() {
  UploadLimits l;
  l.max_chunks = 64;
  l.io_buffer_bytes = 4096;
  l.write_threads = 0;  // a core per input: no writer threads to start and join each time
  return l;
}

std::shared_ptr<UploadStore> storage_in(const fs::path& dir) {
  return make_filesystem_store({dir / "chunks", dir / "files", false, true});
}

const UploadCore::Hooks quiet{{}, [](const std::string&) {}};

// Chunk `number` (1-based, 1 KiB chunks) of the template file, as the resumable.js front-end asks.
PieceRequest chunk(const std::string& identifier, std::uint64_t number, std::uint64_t total,
                   std::optional<core::Digest> file_digest) {
  PieceRequest r;
  r.upload.identifier = identifier;
  r.upload.file_name = "t.bin";
  r.upload.total_size = total;
  r.upload.file_digest = file_digest;
  r.upload.protocol_fields = {{"chunkSize", "1024"}, {"chunkCount", "3"}};
  r.offset = (number - 1) * 1024;
  r.size = number == 3 ? total - 2048 : 1024;
  return r;
}

// A real upload of chunks 1 and 3 of 3 (3 ends the file: its record holds the file's one leaf),
// and a finished one.
void make_templates() {
  const fs::path dir = root / "template";
  auto storage = storage_in(dir);
  UploadCore core(storage, limits(), quiet);
  std::vector<std::uint8_t> bytes(3 * 1024 + 100);
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(i * 31 + 7);
  auto send = [&](const std::string& identifier, std::uint64_t number) {
    const auto r = chunk(identifier, number, bytes.size(), core::file_digest(bytes));
    auto start = core.begin_piece("fuzz", r);
    auto* writer = std::get_if<PieceWriter>(&start);
    if (writer == nullptr) std::abort();
    writer->write(std::span(bytes.data() + r.offset, r.size));
    writer->finish();
  };
  send("f", 1);
  send("f", 3);
  send("done", 1);
  send("done", 2);
  send("done", 3);
  for (const auto& entry : fs::directory_iterator(dir / "chunks")) {
    if (fs::exists(entry.path() / "final.json")) {
      templates.final_record = slurp(entry.path() / "final.json");
    } else {
      templates.upload_id = entry.path().filename().string();
      templates.manifest = slurp(entry.path() / "manifest.json");
      templates.log = slurp(entry.path() / "pieces.log");
    }
  }
  if (templates.upload_id.empty() || templates.log.empty() || templates.final_record.empty()) std::abort();
}

// A template with a few fuzzed byte changes, a raw fuzz string, the template itself, or nothing.
std::optional<std::string> piece(FuzzedDataProvider& fuzz, const std::string& valid) {
  switch (fuzz.ConsumeIntegralInRange<int>(0, 4)) {
    case 0:
      return std::nullopt;
    case 1:
      return fuzz.ConsumeRandomLengthString(512);
    case 2: {
      std::string damaged = valid;
      const int edits = fuzz.ConsumeIntegralInRange<int>(1, 4);
      for (int i = 0; i < edits && !damaged.empty(); ++i) {
        const auto at = fuzz.ConsumeIntegralInRange<std::size_t>(0, damaged.size() - 1);
        switch (fuzz.ConsumeIntegralInRange<int>(0, 2)) {
          case 0: damaged[at] = static_cast<char>(fuzz.ConsumeIntegral<std::uint8_t>()); break;
          case 1: damaged.resize(at); break;
          default: damaged.insert(at, fuzz.ConsumeRandomLengthString(16)); break;
        }
      }
      return damaged;
    }
    default:
      return valid;
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  root = fs::path(fs::exists("/dev/shm") ? "/dev/shm" : "/tmp") / ("rsm-fuzz-state-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);
  make_templates();
  std::atexit([] {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider fuzz(data, size);
  const fs::path dir = root / "run";
  std::error_code ignored;
  fs::remove_all(dir, ignored);
  const fs::path upload = dir / "chunks" / templates.upload_id;
  fs::create_directories(upload);
  fs::create_directories(dir / "files");
  if (auto m = piece(fuzz, templates.manifest)) spit(upload / "manifest.json", *m);
  if (auto l = piece(fuzz, templates.log)) spit(upload / "pieces.log", *l);
  if (fuzz.ConsumeBool()) {
    if (auto f = piece(fuzz, templates.final_record)) spit(upload / "final.json", *f);
  }
  if (fuzz.ConsumeBool()) {
    std::string bytes(fuzz.ConsumeIntegralInRange<std::size_t>(0, 4 * 1024), '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 31 + 7);
    spit(upload / "data", bytes);
  }

  auto storage = storage_in(dir);
  UploadCore core(storage, limits(), quiet);
  core.load();
  (void)core.status("fuzz", "f");
  (void)core.resume_finalization("fuzz", "f");
  for (const auto& summary : core.list_uploads()) {
    (void)core.status(summary.principal, summary.identifier);
  }
  // A chunk arriving for the loaded upload (chunk 2 of the template's geometry).
  auto start = core.begin_piece("fuzz", chunk("f", 2, 3 * 1024 + 100, std::nullopt));
  if (auto* writer = std::get_if<PieceWriter>(&start)) {
    std::vector<std::uint8_t> bytes(1024);
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>((i + 1024) * 31 + 7);
    writer->write(bytes);
    (void)writer->finish();
  }
  core.collect_stale(UploadCore::Clock::now() + std::chrono::hours(24 * 365));
  // Released files only ever carry the server's own names, inside upload_to.
  for (const auto& entry : fs::directory_iterator(dir / "files")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(templates.upload_id, 0) != 0) __builtin_trap();
  }
  return 0;
}
