// When to try again: bounded exponential backoff with jitter, and the server's Retry-After. The
// same rules as the widget (widget/src/uploader.js retryDelay, widget/src/protocol.js retryAfterMs).
// Pure functions; thread-safe.
#pragma once

#include "http_client.h"

#include <chrono>
#include <optional>
#include <string_view>

namespace resumable::cli {

struct RetryPolicy {
  int max_retries = 20;              // per chunk, and per status or delete request
  Milliseconds initial_delay{500};   // the first wait's ceiling; it doubles per failed attempt
  Milliseconds max_delay{30000};     // the ceiling stops doubling here
  Milliseconds max_retry_after{300000};  // a Retry-After longer than this is cut to it
};

// The wait before attempt `attempt` (1 for the first retry): "equal jitter", a random half of
// the doubled ceiling on top of its other half, so clients that failed together do not retry
// together; at least what the server asked for (up to max_retry_after). `random01` in [0, 1).
Milliseconds retry_delay(const RetryPolicy& policy, int attempt, std::optional<Milliseconds> server_asked,
                         double random01);

// How long a Retry-After value asks to wait: a number of seconds, or an HTTP date taken relative
// to the reply's Date header when there is one (so the client's clock does not matter), else to
// `now`. nullopt when there is no value or it is neither.
std::optional<Milliseconds> parse_retry_after(std::optional<std::string_view> value,
                                              std::optional<std::string_view> reply_date,
                                              std::chrono::system_clock::time_point now);

}  // namespace resumable::cli
