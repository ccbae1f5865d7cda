// The widget's files (script, stylesheet, wasm core), compiled into the server library.
// Empty when the library was built without the WebAssembly toolchain.
#pragma once

#include <span>

#include "resumable/embedded_asset.h"

namespace resumable::widget {
std::span<const EmbeddedAsset> embedded_assets();
}
