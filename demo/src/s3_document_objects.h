// DocumentObjects over the S3 client of the server library's S3 store (built with RESUMABLE_S3).
#pragma once

#include <memory>
#include <string>

#include "document_objects.h"
#include "resumable/s3_client.h"

namespace resumable::demo {

// Makes a client and checks that the bucket answers (a listing under `prefix`); nullptr with
// `error` set (S3's reason: NoSuchBucket, a refused connection, a wrong key) otherwise.
std::unique_ptr<DocumentObjects> connect_document_objects(const S3Options& options, const std::string& prefix,
                                                          std::string* error);

}  // namespace resumable::demo
