// The `resumable` command's parts that need no server: how replies are classified (against the
// error table and the widget's list), the retry policy, Retry-After, option values, and the state
// file that keeps tus upload URLs between runs.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <sstream>
#include <vector>

#include "commands.h"
#include "resumable/errors.h"
#include "resumable/image_signature.h"
#include "resumable/tree_digest.h"
#include "resumable_protocol.h"
#include "retry.h"
#include "status_map.h"
#include "upload_state.h"

#include <filesystem>
#include <unistd.h>

using namespace resumable::cli;
using namespace std::chrono_literals;

TEST_CASE("every error code's reply is retried exactly when the error table says so", "[cli]") {
  for (const auto& info : resumable::error_table()) {
    HttpResponse response;
    response.status = resumable::resumablejs::http_status(info.code);
    response.body = nlohmann::json{{"status", "error"}, {"error", info.id}, {"message", info.meaning},
                                   {"retryable", info.retryable}}.dump();
    const Failure failure = describe_failure(response);
    CAPTURE(info.id);
    CHECK(failure.code == info.id);
    CHECK(failure.status == response.status);
    CHECK(failure.message == info.meaning);
    CHECK(failure.retryable == info.retryable);
  }
  // The body's verdict wins over the status (the table and the status list agree today; a future
  // code need not).
  HttpResponse response;
  response.status = 503;
  response.body = R"({"status": "error", "error": "some_future_code", "message": "m", "retryable": false})";
  CHECK_FALSE(describe_failure(response).retryable);
  response.status = 409;
  response.body = R"({"status": "error", "error": "some_future_code", "message": "m", "retryable": true})";
  CHECK(describe_failure(response).retryable);
}

TEST_CASE("replies without a verdict are retried by status, with the widget's list", "[cli]") {
  std::ifstream source(RESUMABLE_WIDGET_PROTOCOL_JS);
  std::stringstream text;
  text << source.rdbuf();
  // No std::regex: GCC 12 warns about its internals under ASan (-Werror).
  const std::string js = text.str();
  const std::string marker = "RETRYABLE_STATUSES = [";
  const auto start = js.find(marker);
  REQUIRE(start != std::string::npos);
  const auto end = js.find(']', start);
  REQUIRE(end != std::string::npos);
  std::vector<long> widget;
  std::stringstream numbers(js.substr(start + marker.size(), end - start - marker.size()));
  for (std::string number; std::getline(numbers, number, ',');) widget.push_back(std::stol(number));
  const auto ours = retryable_statuses();
  CHECK(std::vector<long>(ours.begin(), ours.end()) == widget);

  HttpResponse proxy_page;
  proxy_page.status = 502;
  proxy_page.body = "<html>Bad Gateway</html>";
  CHECK(describe_failure(proxy_page).retryable);
  proxy_page.status = 403;
  CHECK_FALSE(describe_failure(proxy_page).retryable);
  HttpResponse no_reply;
  no_reply.transport_error = "Connection refused";
  CHECK(describe_failure(no_reply).code == "network_error");
  CHECK(describe_failure(no_reply).retryable);
  no_reply.timed_out = true;
  CHECK(describe_failure(no_reply).code == "timeout");
}

TEST_CASE("backoff doubles with jitter up to its ceiling and waits at least what Retry-After asks", "[cli]") {
  RetryPolicy policy;  // 500 ms doubling to 30 s; Retry-After up to 5 min
  CHECK(retry_delay(policy, 1, std::nullopt, 0.0) == 250ms);
  CHECK(retry_delay(policy, 1, std::nullopt, 0.999) <= 500ms);
  CHECK(retry_delay(policy, 3, std::nullopt, 0.0) == 1000ms);
  CHECK(retry_delay(policy, 20, std::nullopt, 0.0) == 15000ms);
  CHECK(retry_delay(policy, 20, std::nullopt, 0.999) <= 30000ms);
  CHECK(retry_delay(policy, 1, 7000ms, 0.5) == 7000ms);
  CHECK(retry_delay(policy, 1, 100ms, 0.0) == 250ms);
  CHECK(retry_delay(policy, 1, 3600000ms, 0.0) == 300000ms);
}

TEST_CASE("Retry-After is seconds or an HTTP date, taken against the reply's own Date", "[cli]") {
  const auto now = std::chrono::system_clock::now();
  CHECK(parse_retry_after("120", std::nullopt, now) == 120000ms);
  CHECK(parse_retry_after(" 3 ", std::nullopt, now) == 3000ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", "Wed, 21 Oct 2015 07:28:00 GMT", now) == 30000ms);
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", std::nullopt, now) == 0ms);  // in the past
  CHECK_FALSE(parse_retry_after("soon", std::nullopt, now).has_value());
  CHECK_FALSE(parse_retry_after(std::nullopt, std::nullopt, now).has_value());
}

TEST_CASE("sizes and times on the command line", "[cli]") {
  std::uint64_t bytes = 0;
  CHECK((parse_size("4MiB", &bytes) && bytes == 4194304));
  CHECK((parse_size("4M", &bytes) && bytes == 4194304));
  CHECK((parse_size("10MB", &bytes) && bytes == 10000000));
  CHECK((parse_size("1000", &bytes) && bytes == 1000));
  CHECK_FALSE(parse_size("4 lots", &bytes));
  CHECK_FALSE(parse_size("-1", &bytes));
  std::chrono::milliseconds duration{};
  CHECK((parse_duration("500ms", &duration) && duration == 500ms));
  CHECK((parse_duration("30s", &duration) && duration == 30000ms));
  CHECK((parse_duration("2m", &duration) && duration == 120000ms));
  CHECK((parse_duration("1.5", &duration) && duration == 1500ms));
  CHECK_FALSE(parse_duration("soon", &duration));
}

TEST_CASE("the state file keeps upload URLs between runs and across commands running at once", "[cli]") {
  const auto dir = std::filesystem::temp_directory_path() / ("resumable-cli-state-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::string path = (dir / "nested" / "uploads.json").string();
  std::string error;
  UploadUrlStore first(path);
  UploadUrlStore second(path);  // another command on the same file
  CHECK_FALSE(first.find("http://h/files 10-aa").has_value());
  REQUIRE(first.remember("http://h/files 10-aa", "http://h/files/1", &error));  // creates the folders
  REQUIRE(second.remember("http://h/files 20-bb", "http://h/files/2", &error));
  CHECK(first.find("http://h/files 20-bb") == std::optional<std::string>("http://h/files/2"));
  CHECK(UploadUrlStore(path).find("http://h/files 10-aa") == std::optional<std::string>("http://h/files/1"));
  CHECK((std::filesystem::status(path).permissions() & std::filesystem::perms::others_read) == std::filesystem::perms::none);
  REQUIRE(second.forget("http://h/files 10-aa", &error));
  CHECK_FALSE(first.find("http://h/files 10-aa").has_value());
  CHECK(first.find("http://h/files 20-bb").has_value());

  // Entries older than 30 days go at the next change; a damaged file counts as empty.
  std::ofstream(path) << R"({"version": 1, "uploads": {"old": {"url": "u", "saved": 1}, "k": {"url": "v", "saved": 99999999999}}})";
  CHECK(first.find("old").has_value());
  REQUIRE(first.remember("new", "w", &error));
  CHECK_FALSE(first.find("old").has_value());
  CHECK(first.find("k").has_value());
  std::ofstream(path) << "not json";
  CHECK_FALSE(first.find("k").has_value());
  REQUIRE(first.remember("k", "v2", &error));
  CHECK(first.find("k") == std::optional<std::string>("v2"));
  CHECK(UploadUrlStore("").remember("k", "v", &error));  // no file: nothing kept, no error
  CHECK_FALSE(UploadUrlStore("").find("k").has_value());
  std::filesystem::remove_all(dir);
}

TEST_CASE("keygen and sign make a trailer the device's key verifies, over the payload's tree digest", "[cli]") {
  const auto dir = std::filesystem::temp_directory_path() / ("rsm-sign-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = [&](const char* name) { return (dir / name).string(); };
  std::atomic<bool> interrupted{false};
  REQUIRE(run_command(std::vector<std::string>{"keygen", "--secret", path("key.sec"), "--public", path("key.pub")}, interrupted) == 0);
  CHECK((std::filesystem::status(path("key.sec")).permissions() & std::filesystem::perms::group_read) == std::filesystem::perms::none);
  // Never overwritten.
  CHECK(run_command(std::vector<std::string>{"keygen", "--secret", path("key.sec"), "--public", path("other.pub")}, interrupted) == 1);
  std::vector<std::uint8_t> payload(2 * 1024 * 1024 + 333);
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i * 7 + (i >> 11));
  std::ofstream(path("image.bin"), std::ios::binary).write(reinterpret_cast<const char*>(payload.data()),
                                                          static_cast<std::streamsize>(payload.size()));
  REQUIRE(run_command(std::vector<std::string>{"sign", "--key", path("key.sec"), path("image.bin")}, interrupted) == 0);
  std::ifstream in(path("image.bin.signed"), std::ios::binary);
  const std::vector<std::uint8_t> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(image.size() == payload.size() + resumable::image_trailer_bytes);
  CHECK(std::equal(payload.begin(), payload.end(), image.begin()));
  const auto trailer = resumable::decode_trailer(std::span(image).last(resumable::image_trailer_bytes));
  REQUIRE(trailer);
  CHECK(trailer->payload_size == payload.size());
  CHECK(trailer->payload_digest == resumable::core::file_digest(payload));
  std::ifstream public_file(path("key.pub"));
  std::string public_hex;
  public_file >> public_hex;
  const auto public_key = resumable::public_key_from_hex(public_hex);
  REQUIRE(public_key);
  CHECK(resumable::trailer_signature_valid(*trailer, *public_key));
  // Signing a signed image again is refused; a bad key file is a local error.
  CHECK(run_command(std::vector<std::string>{"sign", "--key", path("key.sec"), path("image.bin.signed")}, interrupted) == 1);
  CHECK(run_command(std::vector<std::string>{"sign", "--key", path("key.pub"), path("image.bin")}, interrupted) == 1);
  CHECK(run_command(std::vector<std::string>{"sign", path("image.bin")}, interrupted) == 2);
  std::filesystem::remove_all(dir);
}
