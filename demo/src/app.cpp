// Dispatch, sessions and the public pages. The admin pages are in admin_routes.cpp.
#include "app.h"

#include <chrono>
#include <cstring>

#include "app_routing.h"
#include "resumable/tree_digest.h"
#include "upload_access.h"

namespace resumable::demo {

namespace {

constexpr std::size_t max_form_bytes = 256 * 1024;

std::int64_t now_unix() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool match_path(std::string_view path, std::string_view pattern, std::int64_t* id) {
  while (!path.empty() || !pattern.empty()) {
    if (path.empty() || pattern.empty() || path.front() != '/' || pattern.front() != '/') return false;
    path.remove_prefix(1);
    pattern.remove_prefix(1);
    const std::string_view segment = path.substr(0, path.find('/'));
    const std::string_view expected = pattern.substr(0, pattern.find('/'));
    path.remove_prefix(segment.size());
    pattern.remove_prefix(expected.size());
    if (expected == "{id}") {
      const auto parsed = parse_record_id(segment);
      if (!parsed) return false;
      if (id != nullptr) *id = *parsed;
    } else if (segment != expected) {
      return false;
    }
  }
  return true;
}

std::optional<std::int64_t> parse_record_id(std::string_view text) {
  // Up to 18 digits always fits in an int64; record ids start at 1.
  if (text.empty() || text.size() > 18 || text.front() == '0') return std::nullopt;
  std::int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

DemoApp::DemoApp(AppServices services) : services_(std::move(services)) {}

void DemoApp::mount(mg_context* context) { mg_set_request_handler(context, "/", &DemoApp::handle, this); }

int DemoApp::handle(mg_connection* connection, void* self) {
  auto& app = *static_cast<DemoApp*>(self);
  try {
    Request request(connection);
    Exchange exchange{request, std::nullopt, {}};
    Response response;
    try {
      response = app.route(exchange);
    } catch (const std::exception& e) {
      app.services_.log(std::string(request.method()) + " " + std::string(request.path()) + " failed: " + e.what());
      response = app.error_page(exchange, 500, "Something went wrong",
                                "The demo could not complete this request; its log says why.");
    }
    for (const auto& cookie : exchange.set_cookies) response.headers.emplace_back("Set-Cookie", cookie);
    return send_response(connection, response, request.method() == "HEAD");
  } catch (...) {
    // Only allocation can fail here; CivetWeb must never see an exception.
    mg_send_http_error(connection, 500, "%s", "Internal server error");
    return 500;
  }
}

Response DemoApp::route(Exchange& exchange) {
  load_session(exchange);
  const Request& request = exchange.request;
  const std::string_view path = request.path();
  const bool read = request.is_get_or_head();
  if (path == "/admin" || path.starts_with("/admin/")) return admin_route(exchange, path);
  if (path == "/") return read ? list_documents(exchange) : method_not_allowed(exchange, "GET, HEAD");
  if (path == "/documents/new") return read ? new_document_form(exchange) : method_not_allowed(exchange, "GET, HEAD");
  if (path == "/documents") return request.is_post() ? create_document(exchange) : method_not_allowed(exchange, "POST");
  std::int64_t id = 0;
  if (match_path(path, "/documents/{id}/download", &id)) {
    return read ? download(exchange, id) : method_not_allowed(exchange, "GET, HEAD");
  }
  return error_page(exchange, 404, "Not found", "There is no page at this address.");
}

void DemoApp::load_session(Exchange& exchange) {
  if (const auto cookie = exchange.request.cookie(session_cookie_name)) {
    exchange.session = services_.sessions.find(*cookie);
  }
}

const Session& DemoApp::ensure_session(Exchange& exchange) {
  if (!exchange.session) {
    exchange.session = services_.sessions.start_visitor();
    // Persistent, so an upload interrupted by closing the browser resumes under the same principal.
    exchange.set_cookies.push_back(session_cookie(session_cookie_name, exchange.session->cookie_value,
                                                  services_.sessions.visitor_lifetime().count()));
  }
  return *exchange.session;
}

std::variant<Response, FormFields> DemoApp::read_protected_form(Exchange& exchange) {
  auto body = exchange.request.read_form(max_form_bytes);
  if (const auto* error = std::get_if<FormError>(&body)) {
    switch (*error) {
      case FormError::wrong_content_type:
        return error_page(exchange, 415, "Form refused",
                          "Forms are accepted only as application/x-www-form-urlencoded (what the demo's pages send).");
      case FormError::too_large:
        return error_page(exchange, 413, "Form refused", "The form is larger than 256 KiB.");
      case FormError::incomplete:
        return error_page(exchange, 400, "Form refused", "The form arrived incomplete. Send it again.");
    }
  }
  auto& form = std::get<FormFields>(body);
  const auto token = form.single("csrf_token");
  if (!exchange.session || !token || !csrf_token_matches(*exchange.session, *token)) {
    return error_page(exchange, 403, "Form refused",
                      "This form was not sent from a page of this demo, or the page has expired (for example "
                      "after logging in or out). Reload the page and send the form again.");
  }
  return std::move(form);
}

PageFrame DemoApp::frame(const Exchange& exchange, std::string title, std::string upload_endpoint) const {
  return PageFrame{std::move(title), exchange.session ? &*exchange.session : nullptr, std::move(upload_endpoint)};
}

Response DemoApp::error_page(const Exchange& exchange, int status, const std::string& heading,
                             const std::string& message) const {
  return Response::page(status, message_page(frame(exchange, heading), heading, message));
}

Response DemoApp::method_not_allowed(const Exchange& exchange, const char* allowed) const {
  Response response = error_page(exchange, 405, "Method not allowed", "This address does not accept that method.");
  response.headers.emplace_back("Allow", allowed);
  return response;
}

Response DemoApp::list_documents(Exchange& exchange) {
  std::optional<std::int64_t> just_saved;
  if (const auto created = exchange.request.query_value("created")) just_saved = parse_record_id(*created);
  return Response::page(200, document_list_page(frame(exchange, "Documents"), services_.documents.list(), just_saved));
}

Response DemoApp::new_document_form(Exchange& exchange) {
  ensure_session(exchange);
  return Response::page(200, document_form_page(frame(exchange, "Add a document", "/upload"), DocumentFormState{}));
}

Response DemoApp::create_document(Exchange& exchange) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  auto submission = read_document_submission(std::get<FormFields>(checked), true);

  std::optional<StoredFile> file;
  if (submission.errors.empty()) {
    std::string error;
    file = take_upload(services_.public_uploads, *submission.upload_token, exchange.session->principal, error);
    if (!file) submission.errors.push_back(error);
  } else if (submission.upload_token) {
    // The token stays unclaimed: choosing the same file again finds the finished upload.
    submission.errors.push_back("If your file had finished uploading, choose it again: it completes at once.");
  }
  if (!submission.errors.empty()) {
    return Response::page(400, document_form_page(frame(exchange, "Add a document", "/upload"),
                                                  DocumentFormState{submission.text, submission.errors}));
  }
  std::int64_t id = 0;
  try {
    id = services_.documents.create(submission.text, file);
  } catch (...) {
    delete_stored_file(file->stored_name);
    throw;
  }
  return Response::redirect("/?created=" + std::to_string(id));
}

Response DemoApp::download(Exchange& exchange, std::int64_t id) {
  const auto document = services_.documents.find(id);
  if (!document || !document->file) return error_page(exchange, 404, "Not found", "This document has no file.");
  if (services_.objects != nullptr && DocumentObjects::holds(document->file->stored_name)) {
    return Response::download(services_.objects->source(*document->file), document->file->file_name);
  }
  auto path = services_.files.path_of(document->file->stored_name);
  if (path.empty()) return error_page(exchange, 404, "Not found", "This document has no file.");
  return Response::download(std::move(path), document->file->file_name);
}

std::optional<StoredFile> DemoApp::take_upload(UploadEndpoint& endpoint, const std::string& token,
                                               const std::string& principal, std::string& error) {
  auto claimed = endpoint.claim_upload(token, principal);
  const auto* upload = std::get_if<ClaimedUpload>(&claimed);
  if (upload == nullptr) {
    error = "This upload is unknown, was already used for a document, or belongs to another browser. Choose the "
            "file again to upload it.";
    return std::nullopt;
  }
  StoredFile file;
  file.file_name = upload->file_name;
  file.size = upload->size;
  file.file_digest = core::to_hex(upload->digest);
  file.digest_algorithm = core::tree_digest_name;  // what claim_upload's digest is since issue 12
  file.uploaded_at = now_unix();
  if (services_.objects != nullptr) {
    // The S3 store's released object stays where it is: its key is the record's file.
    file.stored_name = DocumentObjects::stored_name_for(upload->location);
    return file;
  }
  try {
    file.stored_name = services_.files.adopt(upload->location);
  } catch (...) {
    // The claim cannot be undone; do not leave the file behind with no record pointing at it.
    std::error_code ignored;
    std::filesystem::remove(upload->location, ignored);
    throw;
  }
  return file;
}

void DemoApp::delete_stored_file(const std::optional<std::string>& stored_name) {
  if (!stored_name) return;
  std::string error;
  const bool removed = services_.objects != nullptr && DocumentObjects::holds(*stored_name)
                           ? services_.objects->remove(*stored_name, error)
                           : services_.files.remove(*stored_name, error);
  if (!removed) services_.log(error);
}

}  // namespace resumable::demo
