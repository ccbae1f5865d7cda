// The mount's file-type policy: allowed extensions and MIME types (UploadLimits), compared
// case-insensitively; "image/*" matches a whole family. A missing MIME type passes.
#pragma once

#include <string>

#include "resumable/limits.h"

namespace resumable {

bool file_type_allowed(const UploadLimits& limits, const std::string& file_name, const std::string& mime_type);

}  // namespace resumable
