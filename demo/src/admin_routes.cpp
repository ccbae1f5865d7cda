// The admin: login, the document list, create / edit / delete, and uploads in progress.
#include <algorithm>

#include "app.h"
#include "app_routing.h"
#include "upload_access.h"

namespace resumable::demo {

namespace {

constexpr const char* staff_upload_endpoint = "/admin/upload";

std::string admin_notice(const std::optional<std::string>& done) {
  if (done == "created") return "The document was saved.";
  if (done == "saved") return "Your changes were saved.";
  if (done == "deleted") return "The document and its file were deleted.";
  return {};
}

std::optional<std::size_t> parse_count(const std::optional<std::string>& text) {
  if (!text || text->empty() || text->size() > 9) return std::nullopt;
  std::size_t value = 0;
  for (const char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::size_t>(c - '0');
  }
  return value;
}

}  // namespace

Response DemoApp::admin_route(Exchange& exchange, std::string_view path) {
  const Request& request = exchange.request;
  const bool read = request.is_get_or_head();
  const bool post = request.is_post();
  if (path == "/admin") return Response::redirect("/admin/");
  if (path == "/admin/login") {
    if (read) return login_form(exchange);
    return post ? log_in(exchange) : method_not_allowed(exchange, "GET, HEAD, POST");
  }
  if (path == "/admin/logout") return post ? log_out(exchange) : method_not_allowed(exchange, "POST");

  if (!is_admin(exchange)) {
    if (read) return Response::redirect("/admin/login");
    return error_page(exchange, 403, "Admins only", "Log in as an admin first.");
  }
  std::int64_t id = 0;
  if (path == "/admin/") return read ? admin_list(exchange) : method_not_allowed(exchange, "GET, HEAD");
  if (path == "/admin/documents/new") return read ? admin_new_form(exchange) : method_not_allowed(exchange, "GET, HEAD");
  if (path == "/admin/documents") return post ? admin_create(exchange) : method_not_allowed(exchange, "POST");
  if (match_path(path, "/admin/documents/{id}", &id)) {
    if (read) return admin_edit_form(exchange, id);
    return post ? admin_update(exchange, id) : method_not_allowed(exchange, "GET, HEAD, POST");
  }
  if (match_path(path, "/admin/documents/{id}/delete", &id)) {
    if (read) return admin_delete_form(exchange, id);
    return post ? admin_delete(exchange, id) : method_not_allowed(exchange, "GET, HEAD, POST");
  }
  if (path == "/admin/uploads") return read ? admin_uploads(exchange) : method_not_allowed(exchange, "GET, HEAD");
  if (path == "/admin/uploads/collect") return post ? admin_collect(exchange) : method_not_allowed(exchange, "POST");
  return error_page(exchange, 404, "Not found", "There is no admin page at this address.");
}

Response DemoApp::login_form(Exchange& exchange) {
  if (is_admin(exchange)) return Response::redirect("/admin/");
  ensure_session(exchange);  // the login form needs a CSRF token too
  return Response::page(200, login_page(frame(exchange, "Admin login"), services_.accounts.any(), "", ""));
}

Response DemoApp::log_in(Exchange& exchange) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  const auto& form = std::get<FormFields>(checked);
  const std::string name = form.single("name").value_or("");
  const std::string password = form.single("password").value_or("");

  std::optional<Admin> admin;
  if (!check_admin_name(name) && password.size() <= 1024) admin = services_.accounts.verify(name, password);
  if (!admin) {
    // Only a well-formed name is shown again (escaped, like everything on a page).
    const std::string shown_name = check_admin_name(name) ? std::string() : name;
    return Response::page(403, login_page(frame(exchange, "Admin login"), services_.accounts.any(), shown_name,
                                          "The name or password is wrong."));
  }
  // A new cookie value at login: a session id seen before logging in is worth nothing after.
  services_.sessions.end(exchange.session->cookie_value);
  exchange.session = services_.sessions.start_admin(*admin);
  // No Max-Age: the admin session cookie ends with the browser (and on the server after its lifetime).
  exchange.set_cookies.push_back(session_cookie(session_cookie_name, exchange.session->cookie_value, std::nullopt));
  return Response::redirect("/admin/");
}

Response DemoApp::log_out(Exchange& exchange) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  services_.sessions.end(exchange.session->cookie_value);
  exchange.session.reset();
  exchange.set_cookies.push_back(session_cookie(session_cookie_name, "", 0));
  return Response::redirect("/");
}

Response DemoApp::admin_list(Exchange& exchange) {
  return Response::page(200, admin_document_list_page(frame(exchange, "Admin"), services_.documents.list(),
                                                      admin_notice(exchange.request.query_value("done"))));
}

Response DemoApp::admin_new_form(Exchange& exchange) {
  return Response::page(200, admin_document_form_page(frame(exchange, "Add a document", staff_upload_endpoint), nullptr,
                                                      DocumentFormState{}));
}

Response DemoApp::admin_create(Exchange& exchange) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  auto submission = read_document_submission(std::get<FormFields>(checked), false);

  std::optional<StoredFile> file;
  if (submission.errors.empty() && submission.upload_token) {
    std::string error;
    file = take_upload(services_.staff_uploads, *submission.upload_token, exchange.session->principal, error);
    if (!file) submission.errors.push_back(error);
  }
  if (!submission.errors.empty()) {
    return Response::page(400, admin_document_form_page(frame(exchange, "Add a document", staff_upload_endpoint),
                                                        nullptr, DocumentFormState{submission.text, submission.errors}));
  }
  try {
    services_.documents.create(submission.text, file);
  } catch (...) {
    if (file) delete_stored_file(file->stored_name);
    throw;
  }
  return Response::redirect("/admin/?done=created");
}

Response DemoApp::admin_edit_form(Exchange& exchange, std::int64_t id) {
  const auto document = services_.documents.find(id);
  if (!document) return error_page(exchange, 404, "Not found", "There is no such document.");
  return Response::page(200, admin_document_form_page(frame(exchange, "Edit a document", staff_upload_endpoint),
                                                      &*document, DocumentFormState{document->text, {}}));
}

Response DemoApp::admin_update(Exchange& exchange, std::int64_t id) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  auto submission = read_document_submission(std::get<FormFields>(checked), false);
  const auto document = services_.documents.find(id);
  if (!document) return error_page(exchange, 404, "Not found", "There is no such document.");

  std::optional<StoredFile> replacement;
  if (submission.errors.empty() && submission.upload_token) {
    std::string error;
    replacement = take_upload(services_.staff_uploads, *submission.upload_token, exchange.session->principal, error);
    if (!replacement) submission.errors.push_back(error);
  }
  if (!submission.errors.empty()) {
    return Response::page(400, admin_document_form_page(frame(exchange, "Edit a document", staff_upload_endpoint),
                                                        &*document, DocumentFormState{submission.text, submission.errors}));
  }
  // A new file wins over a ticked "Clear": the person chose a replacement.
  FileChange change = KeepFile{};
  if (replacement) {
    change = *replacement;
  } else if (submission.clear_file) {
    change = ClearFile{};
  }
  DocumentStore::Change result;
  try {
    result = services_.documents.update(id, submission.text, change);
  } catch (...) {
    if (replacement) delete_stored_file(replacement->stored_name);
    throw;
  }
  if (!result.found) {  // deleted by someone else meanwhile
    if (replacement) delete_stored_file(replacement->stored_name);
    return error_page(exchange, 404, "Not found", "There is no such document.");
  }
  delete_stored_file(result.released_stored_name);
  return Response::redirect("/admin/?done=saved");
}

Response DemoApp::admin_delete_form(Exchange& exchange, std::int64_t id) {
  const auto document = services_.documents.find(id);
  if (!document) return error_page(exchange, 404, "Not found", "There is no such document.");
  return Response::page(200, admin_delete_page(frame(exchange, "Delete a document"), *document));
}

Response DemoApp::admin_delete(Exchange& exchange, std::int64_t id) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  const auto result = services_.documents.remove(id);
  if (!result.found) return error_page(exchange, 404, "Not found", "There is no such document.");
  delete_stored_file(result.released_stored_name);
  return Response::redirect("/admin/?done=deleted");
}

Response DemoApp::admin_uploads(Exchange& exchange) {
  std::vector<UploadInProgress> uploads;
  for (auto& summary : services_.public_uploads.list_uploads()) uploads.push_back({"public", std::move(summary)});
  for (auto& summary : services_.staff_uploads.list_uploads()) uploads.push_back({"staff", std::move(summary)});
  std::sort(uploads.begin(), uploads.end(), [](const UploadInProgress& a, const UploadInProgress& b) {
    return a.summary.last_activity > b.summary.last_activity;
  });
  std::string notice;
  const auto stale = parse_count(exchange.request.query_value("stale"));
  const auto unclaimed = parse_count(exchange.request.query_value("unclaimed"));
  if (stale && unclaimed) {
    notice = "Collected " + std::to_string(*stale) + " stale " + (*stale == 1 ? "upload" : "uploads") + " and " +
             std::to_string(*unclaimed) + " finished " + (*unclaimed == 1 ? "upload" : "uploads") +
             " whose form was never sent.";
  }
  return Response::page(200, admin_uploads_page(frame(exchange, "Uploads in progress"), uploads,
                                                services_.upload_limits, notice));
}

Response DemoApp::admin_collect(Exchange& exchange) {
  auto checked = read_protected_form(exchange);
  if (auto* refusal = std::get_if<Response>(&checked)) return std::move(*refusal);
  const auto from_public = services_.public_uploads.collect_stale();
  const auto from_staff = services_.staff_uploads.collect_stale();
  return Response::redirect("/admin/uploads?stale=" + std::to_string(from_public.stale_removed + from_staff.stale_removed) +
                            "&unclaimed=" +
                            std::to_string(from_public.unclaimed_removed + from_staff.unclaimed_removed));
}

}  // namespace resumable::demo
