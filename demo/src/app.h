// The demo's web application: public document pages and the admin, on one CivetWeb context.
//
//   GET  /                              documents, with download links and digests
//   GET  /documents/new                 the public form (widget on /upload)
//   POST /documents                     save a record; claims the upload token for this browser
//   GET  /documents/<id>/download       the file (Range requests supported)
//   GET  /admin/  /admin/login          admin list; login form
//   POST /admin/login  /admin/logout
//   GET  /admin/documents/new           admin form (widget on the staff-only /admin/upload)
//   POST /admin/documents               create
//   GET  /admin/documents/<id>          edit form;  POST: save (replace or clear the file)
//   GET  /admin/documents/<id>/delete   confirm;    POST: delete the record and its file
//   GET  /admin/uploads                 uploads in progress; POST /admin/uploads/collect
//
// Every POST needs the session's CSRF token; admin routes need an admin session. Handlers never
// let an exception reach CivetWeb: a failure becomes a 500 page and a log line.
#pragma once

#include <civetweb.h>

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "account_store.h"
#include "document_files.h"
#include "document_objects.h"
#include "document_input.h"
#include "document_store.h"
#include "http_exchange.h"
#include "pages.h"
#include "resumable/upload_endpoint.h"
#include "session_store.h"

namespace resumable::demo {

struct AppServices {
  DocumentStore& documents;
  AccountStore& accounts;
  SessionStore& sessions;
  DocumentFiles& files;
  UploadEndpoint& public_uploads;  // mounted at /upload: any browser with a session
  UploadEndpoint& staff_uploads;   // mounted at /admin/upload: admin sessions only
  UploadLimits upload_limits;      // as both endpoints were configured (shown on the uploads page)
  std::function<void(const std::string&)> log;
  DocumentObjects* objects = nullptr;  // --s3: records' files that are S3 objects; else none
};

class DemoApp {
 public:
  explicit DemoApp(AppServices services);
  DemoApp(const DemoApp&) = delete;
  DemoApp& operator=(const DemoApp&) = delete;

  // Registers the application as the context's catch-all handler. Mount the upload endpoints and
  // asset handlers first: CivetWeb gives a request to the first matching pattern.
  void mount(mg_context* context);

 private:
  // What one request carries through its handler: the session, once known, and cookies to set.
  struct Exchange {
    Request& request;
    std::optional<Session> session;
    std::vector<std::string> set_cookies;
  };

  static int handle(mg_connection* connection, void* self);
  Response route(Exchange& exchange);

  // Sessions and guards.
  void load_session(Exchange& exchange);
  const Session& ensure_session(Exchange& exchange);
  bool is_admin(const Exchange& exchange) const { return exchange.session && exchange.session->admin; }
  // The posted form if it carries this session's CSRF token; otherwise the refusal to send.
  std::variant<Response, FormFields> read_protected_form(Exchange& exchange);
  PageFrame frame(const Exchange& exchange, std::string title, std::string upload_endpoint = {}) const;
  Response error_page(const Exchange& exchange, int status, const std::string& heading, const std::string& message) const;
  Response method_not_allowed(const Exchange& exchange, const char* allowed) const;

  // Public pages.
  Response list_documents(Exchange& exchange);
  Response new_document_form(Exchange& exchange);
  Response create_document(Exchange& exchange);
  Response download(Exchange& exchange, std::int64_t id);

  // Admin pages (admin_routes.cpp).
  Response admin_route(Exchange& exchange, std::string_view path);
  Response login_form(Exchange& exchange);
  Response log_in(Exchange& exchange);
  Response log_out(Exchange& exchange);
  Response admin_list(Exchange& exchange);
  Response admin_new_form(Exchange& exchange);
  Response admin_create(Exchange& exchange);
  Response admin_edit_form(Exchange& exchange, std::int64_t id);
  Response admin_update(Exchange& exchange, std::int64_t id);
  Response admin_delete_form(Exchange& exchange, std::int64_t id);
  Response admin_delete(Exchange& exchange, std::int64_t id);
  Response admin_uploads(Exchange& exchange);
  Response admin_collect(Exchange& exchange);

  // Claims `token` from `endpoint` for `principal` and moves the file into the documents folder.
  // nullopt (and a sentence in `error`) if the token is unknown, used or someone else's.
  std::optional<StoredFile> take_upload(UploadEndpoint& endpoint, const std::string& token,
                                        const std::string& principal, std::string& error);
  void delete_stored_file(const std::optional<std::string>& stored_name);

  AppServices services_;
};

}  // namespace resumable::demo
