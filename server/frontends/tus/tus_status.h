// The tus front-end's HTTP status per error code (docs/protocol.md, the error table's tus column).
#pragma once

#include "resumable/errors.h"

namespace resumable::tus {

int tus_status(ErrorCode code);

}  // namespace resumable::tus
