#include "retry.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace resumable::cli {

Milliseconds retry_delay(const RetryPolicy& policy, int attempt, std::optional<Milliseconds> server_asked,
                         double random01) {
  const double doubled = static_cast<double>(policy.initial_delay.count()) * std::pow(2.0, std::max(0, attempt - 1));
  const double ceiling = std::min(static_cast<double>(policy.max_delay.count()), doubled);
  double delay = ceiling / 2 + random01 * ceiling / 2;
  if (server_asked && static_cast<double>(server_asked->count()) > delay) {
    delay = std::max(delay, std::min(static_cast<double>(server_asked->count()),
                                     static_cast<double>(policy.max_retry_after.count())));
  }
  return Milliseconds(static_cast<Milliseconds::rep>(std::ceil(delay)));
}

std::optional<Milliseconds> parse_retry_after(std::optional<std::string_view> value,
                                              std::optional<std::string_view> reply_date,
                                              std::chrono::system_clock::time_point now) {
  if (!value) return std::nullopt;
  std::string_view text = *value;
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (text.size() > 9) return Milliseconds(std::int64_t{999999999} * 1000);  // "forever": capped by the policy
    return Milliseconds(std::stoll(std::string(text)) * 1000);
  }
  const time_t at = curl_getdate(std::string(text).c_str(), nullptr);
  if (at < 0) return std::nullopt;
  time_t reference = reply_date ? curl_getdate(std::string(*reply_date).c_str(), nullptr) : -1;
  if (reference < 0) reference = std::chrono::system_clock::to_time_t(now);
  return Milliseconds(std::max<std::int64_t>(0, static_cast<std::int64_t>(at - reference)) * 1000);
}

}  // namespace resumable::cli
