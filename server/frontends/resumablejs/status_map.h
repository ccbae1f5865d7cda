// The resumable.js front-end's HTTP status for every error code. Chosen for what the unmodified
// clients do with them (docs/protocol.md): 4xx codes that resumable.js and flow.js treat as
// permanent for requests a client must not repeat; 408, 422, 429, 503 and 507 for what a retry
// can fix.
#pragma once

#include "resumable/errors.h"

namespace resumable::resumablejs {

int http_status(ErrorCode code);

}  // namespace resumable::resumablejs
