// An upload registry in PostgreSQL (libpq), for several server instances over one database: the
// records side of their shared store (upload_registry.h; FilesystemStoreOptions::registry).
//
// Tables (created on first use in the connection's default schema, versioned in
// resumable_schema; docs/scale-out.md has them in full): resumable_uploads, one row per upload
// (manifest, last activity, final record, a retired flag) with a unique index on
// (principal, identifier) of live uploads and a unique claim token; resumable_pieces, one row per
// piece (offset, size, chunk digest, first leaf, the leaf digests), deleted with their upload.
//
// Each one-time decision is a single conditional statement, atomic under READ COMMITTED by the
// row lock that statement takes itself: creation is INSERT ... ON CONFLICT DO NOTHING on the unique
// index; the release is UPDATE ... WHERE token IS NULL RETURNING (the first wins, the others read
// it); the claim is DELETE ... WHERE token = $1 AND NOT retired RETURNING; collection is UPDATE ...
// SET retired WHERE <idle by the rows' own activity> RETURNING. No transaction spans two of our
// round trips and no lock outlives a statement, so an instance that dies holds nothing, and no
// instance waits on another's network.
//
// Connections: a small pool (max_connections), each with every statement prepared once; a
// connection that breaks is dropped and a new one made on the next use. Read-only statements are
// tried once more on a fresh connection; writes never are (the client's retry does it, and every
// write is idempotent or conditional). Errors: connection failures, serialization failures,
// deadlocks, a server shutting down or out of resources give StorageCode::unavailable (retryable);
// anything else io_error, and rows that fail validation corrupt. Nothing throws (bad_alloc aside).
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "resumable/upload_registry.h"

namespace resumable {

struct PostgresqlRegistryOptions {
  // A libpq connection string or URI ("postgresql://user@127.0.0.1:5432/db", "host=... dbname=...").
  std::string conninfo;
  // Connections open at once; a caller waits for one up to `wait`, then gets unavailable.
  std::size_t max_connections = 4;
  std::chrono::milliseconds wait{5000};
  // Connecting gives up after this (libpq's connect_timeout, whole seconds, at least 2).
  std::chrono::seconds connect_timeout{5};
};

// Connects once, creates or checks the schema, and returns the registry; nullptr with `error` set
// when the database cannot be reached or holds a newer schema than this build knows.
std::shared_ptr<UploadRegistry> make_postgresql_registry(const PostgresqlRegistryOptions& options,
                                                         std::string* error = nullptr);

}  // namespace resumable
