// The S3 store (issue 17; docs/scale-out.md): an upload is an S3 multipart upload whose object
// becomes the released file, so the server never sends a released file's bytes again.
//   - A piece of at least `part_unit` bytes (5 MiB, S3's smallest part, or more for files beyond
//     10,000 x 5 MiB) is one part, numbered offset / part_unit + 1, so that part numbers follow
//     the offsets whatever order pieces arrive in. Its bytes are buffered in memory from
//     prepare_piece to commit_piece (S3 needs a part's length before its body, and writer threads
//     fill a piece out of order): one piece per piece being received, at most the mount's
//     max_chunk_size each, mmap'ed and unmapped once sent (128 MiB in 8 MiB chunks, 3 at once:
//     the server's peak RSS 46 MiB). commit_piece sends it as UploadPart, then its record. A
//     piece abandoned half-way keeps its buffer until it is sent again or the upload object goes.
//   - A smaller piece is staged as an object of its own; so is the file's last piece (when the
//     size is known), so that small pieces before it end up in the last part, which may be small;
//     and so is a large piece that follows staged pieces still too short for a part (tus appends
//     in order: 16 MiB pieces and a shorter one where each request ends). At release each run of
//     consecutive staged pieces is read back and sent again as parts of 5 to 10 MiB (plus one
//     piece), one part at a time: those bytes cross the network three times, and release holds
//     one such part in memory. A run that is only the last piece (chunks of 5 MiB and more) is
//     copied inside S3 (UploadPartCopy): no byte passes through the server.
//     A run shorter than 5 MiB squeezed between parts that arrived before it (mixed piece sizes
//     out of order) cannot become a part: release then fails with io_error and the upload stays
//     (left for later: complete into a temporary object, then copy ranges, which libcurl 7.88
//     cannot sign, or read those parts' bytes back).
//   - release records the final record (If-None-Match: *, so the first one wins; with a
//     registry, registry->record_final), sends CompleteMultipartUpload with the parts ListParts
//     reports, then deletes the staged objects.
//   - remove aborts the multipart upload, deletes the staged objects and the records (and the
//     released object when asked).
// Records: without a registry, small objects beside the data in the same bucket (one instance).
// Layout under `prefix`:
//   uploads/<id>/manifest.json        the manifest (record_codec.h); written last at creation
//   uploads/<id>/multipart.json       the multipart upload's id, key and part unit
//   uploads/<id>/pieces/<offset>      one piece record each (record_codec.h), after its bytes
//   uploads/<id>/staged/<offset>      staged pieces' bytes
//   uploads/<id>/final.json           the final record
//   files/<id>[.ext]                  the released object (FinalRecord::location is this key)
// With S3StoreOptions::registry (several instances over one bucket and prefix, docs/scale-out.md)
// the manifest, piece records, final record, claim and collection are the registry's; only the
// bytes (parts, staged/<offset>, files/<id>[.ext]) and multipart.json stay in the bucket. The
// multipart upload's id lives in multipart.json, not in the registry, because it belongs to the
// bytes: it is written before registry->create, never changes (so each instance caches it), and
// is deleted only after the registry's records, so that a removal interrupted at any point, or one
// after a claim (records gone), still finds the multipart upload to abort. Any instance takes any
// piece; one that would send a piece as a part first lists staged/ (one LIST), since the pieces
// before it may have been staged by others. Release: registry->record_final decides who released
// (the first wins); completion is then done by whoever gets there (that instance, another one's
// release, status or collection): parts from every instance's piece records and the staged
// objects the bucket holds, CompleteMultipartUpload, staged objects deleted. Idempotent and safe
// to run on several instances at once: an attempt that finds the multipart upload gone
// (NoSuchUpload, or staged objects deleted under it) is done if files/<id> is there with the
// file's size. remove: abort, staged objects deleted, registry->remove, multipart.json deleted.
// One registry serves one bucket and prefix: an upload another prefix holds looks damaged here.
// Retryable S3 failures (see s3_client.h) are StorageCode::unavailable: the client gets a 503 and
// sends the chunk again. No read-back: pieces whose leaves span pieces must arrive in order
// (chunk sizes that are multiples of 1 MiB have none). Every acknowledged S3 write is durable.
#pragma once

#include <memory>
#include <string>

#include "resumable/s3_client.h"
#include "resumable/upload_store.h"

namespace resumable {

class UploadRegistry;

struct S3StoreOptions {
  S3Options s3;
  std::string prefix;  // key prefix inside the bucket, e.g. "uploads-site-a/"; may be empty
  // Set: the records live in this registry, which other instances over the same bucket and
  // prefix share (shared_registry() returns it); the bytes stay in the bucket. Null: the records
  // are objects beside the bytes, for one instance.
  std::shared_ptr<UploadRegistry> registry;
};

// A client is made from options.s3; nullptr (with `error` set) when it cannot be.
std::shared_ptr<UploadStore> make_s3_store(const S3StoreOptions& options, std::string* error = nullptr);

}  // namespace resumable
