// The local filesystem store (django2-resumable's chunks_upload_to and upload_to): every upload is
// a directory of records beside one partial file whose pieces are written at their offsets;
// release is a rename into `upload_to`. It offers read-back, and splice for concatenation
// (copy_file_range: the kernel clones blocks where the filesystem can, else copies them itself). Descriptors are opened on use and kept
// for the most recently used uploads only. Layout, all names chosen by the server:
//   <chunk_dir>/<upload_id>/manifest.json   written atomically (again when a digest is declared late)
//   <chunk_dir>/<upload_id>/data            the partial file
//   <chunk_dir>/<upload_id>/pieces.log      append-only records of committed pieces, with their leaf digests
//   <chunk_dir>/<upload_id>/final.json      written before the release rename (intent record)
//   <upload_to>/<upload_id>[.ext]           the released file
//   <chunk_dir>/<upload_id>.removed         an upload being removed (one rename, then its files go)
// With a registry (several instances over one shared chunk_dir and upload_to) the records live in
// the registry instead (upload_registry.h): each upload directory then holds only its data file.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "resumable/limits.h"
#include "resumable/upload_registry.h"
#include "resumable/upload_store.h"

namespace resumable {

struct FilesystemStoreOptions {
  std::filesystem::path chunk_dir;  // partial files and records
  std::filesystem::path upload_to;  // released files; keep it on the same filesystem as chunk_dir
  // fdatasync a piece's data before it is recorded and the record after (and sync the directories
  // that change): a committed piece and a released file survive power loss. Off, only a process
  // crash is survived.
  bool durable = true;
  // Refuse an upload whose size exceeds the free space when it is created (insufficient_storage at
  // its first piece). Space is taken as pieces arrive, never reserved ahead: one request of one
  // byte cannot take what its whole file will need.
  bool check_free_space = true;
  // Write whole 4 KiB-aligned blocks with O_DIRECT, bypassing the page cache (falls back to
  // buffered writes where the filesystem refuses it): pieces go to the device as they arrive
  // instead of piling up as dirty pages; reading back then comes from the device. Off by default
  // in the device profile (resumable::device_profile, limits.h): flash filesystems such as UBIFS
  // and JFFS2 refuse it, and a system without O_DIRECT always writes buffered. The store needs
  // nothing else beyond POSIX (no fallocate: space is taken as pieces arrive).
  bool direct_io = !device_profile;
  // Uploads whose files are kept open at once (three descriptors each); the least recently used
  // are closed beyond this, so an idle upload holds no descriptor however many are on disk.
  std::size_t max_open_uploads = 64;
  // Records in this registry instead of beside the data (manifest.json, pieces.log, final.json are
  // then never written): for instances that share chunk_dir and upload_to. The store then reports
  // it as UploadStore::shared_registry, and the core reads every upload's state from it.
  std::shared_ptr<UploadRegistry> registry = nullptr;
};

// Creates both directories if needed; nullptr (with `error` set) if they cannot be created.
std::shared_ptr<UploadStore> make_filesystem_store(const FilesystemStoreOptions& options, std::string* error = nullptr);

}  // namespace resumable
