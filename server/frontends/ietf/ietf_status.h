// The IETF draft front-end's HTTP status per error code (docs/protocol.md, the error table's IETF column).
#pragma once

#include "resumable/errors.h"

namespace resumable::ietf {

int ietf_status(ErrorCode code);

}  // namespace resumable::ietf
