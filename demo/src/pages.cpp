#include "pages.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iterator>

#include "resumable/tree_digest.h"

namespace resumable::demo {

namespace {

// The widget's chunk size on the demo's forms: 8 MiB keeps a 256 MiB file to 32 requests.
constexpr const char* widget_chunk_size = "8MiB";

Html csrf_field(const PageFrame& frame) {
  Html field;
  if (frame.session != nullptr) {
    field << "<input type=\"hidden\" name=\"csrf_token\" value=\""_html << frame.session->csrf_token << "\">"_html;
  }
  return field;
}

Html layout(const PageFrame& frame, const Html& content) {
  Html page;
  page << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>"_html
       << frame.title << " · resumable demo</title>\n<link rel=\"stylesheet\" href=\"/static/site.css\">\n"_html;
  if (frame.session != nullptr) {
    // Read by forms.js, which sends it with every upload request (X-CSRF-Token).
    page << "<meta name=\"csrf-token\" content=\""_html << frame.session->csrf_token << "\">\n"_html;
  }
  page << "</head>\n<body>\n<header class=\"site\">\n<nav aria-label=\"Site\">\n"
          "<a class=\"brand\" href=\"/\">resumable demo</a>\n<a href=\"/\">Documents</a>\n"
          "<a href=\"/documents/new\">Add a document</a>\n<a href=\"/tools/hash/\">Hash a file</a>\n"
          "<a href=\"/admin/\">Admin</a>\n"_html;
  if (frame.session != nullptr && frame.session->admin) {
    page << "<span class=\"signed-in\">Signed in as <strong id=\"admin-name\">"_html << frame.session->admin->name
         << "</strong></span>\n<form class=\"inline\" method=\"post\" action=\"/admin/logout\">"_html << csrf_field(frame)
         << "<button type=\"submit\" class=\"link\" id=\"logout\">Log out</button></form>\n"_html;
  }
  page << "</nav>\n</header>\n<main id=\"main\">\n"_html << content << "</main>\n"_html;
  if (!frame.upload_endpoint.empty()) {
    page << "<script src=\"/upload/widget/resumable-widget.js\"></script>\n"
            "<script src=\"/static/forms.js\"></script>\n"_html;
  }
  page << "</body>\n</html>\n"_html;
  return page;
}

Html error_list(const std::vector<std::string>& errors) {
  Html list;
  if (errors.empty()) return list;
  list << "<div class=\"errors\" role=\"alert\" id=\"form-errors\">\n<p>The document was not saved:</p>\n<ul>\n"_html;
  for (const auto& error : errors) list << "<li>"_html << error << "</li>\n"_html;
  list << "</ul>\n</div>\n"_html;
  return list;
}

Html text_fields(const DocumentText& text) {
  Html fields;
  fields << "<p><label for=\"title\">Title</label>\n"
            "<input id=\"title\" name=\"title\" required maxlength=\"200\" value=\""_html
         << text.title
         << "\"></p>\n<p><label for=\"description\">Description</label>\n"
            "<textarea id=\"description\" name=\"description\" rows=\"4\" maxlength=\"5000\">"_html
         << text.description << "</textarea></p>\n"_html;
  return fields;
}

Html file_input(const std::string& endpoint, bool required, const Document* current) {
  Html input;
  input << "<p><label for=\"file\">File</label>\n<input type=\"file\" id=\"file\" name=\"file\" data-resumable=\""_html
        << endpoint << "\" data-resumable-chunk-size=\""_html << widget_chunk_size << "\""_html;
  if (required) input << " required"_html;
  if (current != nullptr && current->file) {
    // The widget shows the current file with a "Clear" checkbox named file-clear.
    input << " data-resumable-current-name=\""_html << current->file->file_name
          << "\" data-resumable-current-url=\""_html << download_url(*current) << "\""_html;
  }
  input << "></p>\n"_html;
  return input;
}

Html iso_time(std::int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char machine[32];
  std::strftime(machine, sizeof machine, "%Y-%m-%dT%H:%M:%SZ", &parts);
  Html html;
  html << "<time datetime=\""_html << machine << "\">"_html << format_time(unix_seconds) << "</time>"_html;
  return html;
}

bool has_legacy_digest(const Document& document) {
  return document.file && document.file->digest_algorithm == legacy_digest_algorithm;
}

// The column holds tree digests; a record from before them says what its digest is instead, since
// resumable-digest would not reproduce it.
Html digest_note(const StoredFile& file) {
  Html note;
  if (file.digest_algorithm == core::tree_digest_name) return note;
  note << "<br><small class=\"digest-algorithm\">"_html;
  if (file.digest_algorithm == legacy_digest_algorithm) {
    note << "plain BLAKE2b-256, uploaded before the tree digest: check with <code>b2sum -l 256</code>"_html;
  } else {
    note << "algorithm: "_html << file.digest_algorithm;
  }
  note << "</small>"_html;
  return note;
}

Html digest_header() {
  return "<th scope=\"col\">Tree digest <small>(BLAKE2b-256 over 1 MiB leaves)</small></th>"_html;
}

// How to reproduce the list's digests from a downloaded file; b2sum only while old records exist.
Html digest_check_text(const std::vector<Document>& documents) {
  Html text;
  text << "<p id=\"digest-check\">Each file was uploaded in verified chunks and checked end to end against its "
          "tree digest (<code>rsm-tree-v1</code>: BLAKE2b-256 over 1 MiB leaves, not a <code>b2sum</code> value). "
          "To check a download, run <code>resumable-digest FILE</code> or "
          "<code>python3 tools/resumable_digest.py FILE</code> and compare the 64 hex digits."_html;
  if (std::any_of(documents.begin(), documents.end(), has_legacy_digest)) {
    text << " Files uploaded before the tree digest show their plain BLAKE2b-256, marked as such: check those with "
            "<code>b2sum -l 256 FILE</code>."_html;
  }
  text << "</p>\n"_html;
  return text;
}

Html file_cells(const Document& document) {
  Html cells;
  if (!document.file) {
    cells << "<td class=\"file\"><span class=\"no-file\">no file</span></td><td class=\"size\"></td>"
             "<td class=\"digest-cell\"></td><td class=\"uploaded\"></td>"_html;
    return cells;
  }
  const StoredFile& file = *document.file;
  cells << "<td class=\"file\"><a class=\"download\" href=\""_html << download_url(document) << "\">"_html
        << file.file_name << "</a></td>\n<td class=\"size\" data-bytes=\""_html << file.size << "\">"_html
        << format_size(file.size) << "</td>\n<td class=\"digest-cell\" data-algorithm=\""_html << file.digest_algorithm
        << "\"><code class=\"digest\">"_html << file.file_digest << "</code>"_html << digest_note(file)
        << "</td>\n<td class=\"uploaded\">"_html << iso_time(file.uploaded_at) << "</td>\n"_html;
  return cells;
}

std::string short_principal(const std::string& principal) {
  constexpr std::size_t shown = 18;
  return principal.size() <= shown ? principal : principal.substr(0, shown) + "…";
}

}  // namespace

std::string download_url(const Document& document) { return "/documents/" + std::to_string(document.id) + "/download"; }

Html document_list_page(const PageFrame& frame, const std::vector<Document>& documents,
                        std::optional<std::int64_t> just_saved) {
  Html content;
  content << "<h1>Documents</h1>\n"_html;
  if (just_saved) content << "<p class=\"notice\" role=\"status\" id=\"notice\">Your document was saved.</p>\n"_html;
  content << digest_check_text(documents) << "<p>Downloads resume (HTTP range requests).</p>\n"
             "<p><a class=\"button\" href=\"/documents/new\">Add a document</a></p>\n"_html;
  if (documents.empty()) {
    content << "<p class=\"empty\">No documents yet.</p>\n"_html;
    return layout(frame, content);
  }
  content << "<table class=\"documents\" id=\"documents\">\n<thead><tr><th scope=\"col\">Title</th>"
             "<th scope=\"col\">File</th><th scope=\"col\">Size</th>"_html
          << digest_header() << "<th scope=\"col\">Uploaded</th></tr></thead>\n<tbody>\n"_html;
  for (const auto& document : documents) {
    content << "<tr id=\"document-"_html << document.id << "\""_html;
    if (just_saved && *just_saved == document.id) content << " class=\"just-saved\""_html;
    content << ">\n<td><strong class=\"title\">"_html << document.text.title
            << "</strong><p class=\"description\">"_html << document.text.description << "</p></td>\n"_html
            << file_cells(document) << "</tr>\n"_html;
  }
  content << "</tbody>\n</table>\n"_html;
  return layout(frame, content);
}

Html document_form_page(const PageFrame& frame, const DocumentFormState& form) {
  Html content;
  content << "<h1>Add a document</h1>\n<p>Choose or drop a file: it is hashed in your browser and uploaded in "
             "verified chunks while you fill in the rest. Pause it, close the tab, come back: the upload resumes "
             "where it stopped. The form sends only a token for the finished upload.</p>\n"_html
          << error_list(form.errors)
          << "<form method=\"post\" action=\"/documents\" class=\"document-form\" id=\"document-form\">\n"_html
          << csrf_field(frame) << text_fields(form.text) << file_input(frame.upload_endpoint, true, nullptr)
          << "<p><button type=\"submit\" class=\"button\" id=\"save\">Save</button></p>\n</form>\n"_html;
  return layout(frame, content);
}

Html message_page(const PageFrame& frame, const std::string& heading, const std::string& message) {
  Html content;
  content << "<h1>"_html << heading << "</h1>\n<p id=\"message\">"_html << message
          << "</p>\n<p><a href=\"/\">Back to the documents</a></p>\n"_html;
  return layout(frame, content);
}

Html login_page(const PageFrame& frame, bool admins_exist, const std::string& name, const std::string& error) {
  Html content;
  content << "<h1>Admin login</h1>\n"_html;
  if (!admins_exist) {
    content << "<div class=\"notice\" id=\"no-admin\">\n<p>No admin account exists yet, and there is no default "
               "one. Create the first admin from the command line (it asks for the password, or reads it from "
               "<code>RESUMABLE_DEMO_ADMIN_PASSWORD</code>):</p>\n"
               "<pre>build/demo/resumable_demo --data-dir demo-data --create-admin NAME</pre>\n"
               "<p>or start the demo with both variables set, which creates that admin if it does not exist:</p>\n"
               "<pre>RESUMABLE_DEMO_ADMIN=NAME RESUMABLE_DEMO_ADMIN_PASSWORD='…' ./scripts/run-demo.sh</pre>\n"
               "</div>\n"_html;
  }
  if (!error.empty()) content << "<p class=\"errors\" role=\"alert\" id=\"login-error\">"_html << error << "</p>\n"_html;
  content << "<form method=\"post\" action=\"/admin/login\" class=\"login-form\" id=\"login-form\">\n"_html
          << csrf_field(frame)
          << "<p><label for=\"name\">Name</label>\n<input id=\"name\" name=\"name\" autocomplete=\"username\" "
             "required value=\""_html
          << name
          << "\"></p>\n<p><label for=\"password\">Password</label>\n<input id=\"password\" name=\"password\" "
             "type=\"password\" autocomplete=\"current-password\" required></p>\n"
             "<p><button type=\"submit\" class=\"button\" id=\"login\">Log in</button></p>\n</form>\n"_html;
  return layout(frame, content);
}

Html admin_document_list_page(const PageFrame& frame, const std::vector<Document>& documents,
                              const std::string& notice) {
  Html content;
  content << "<h1>Admin: documents</h1>\n"_html;
  if (!notice.empty()) content << "<p class=\"notice\" role=\"status\" id=\"notice\">"_html << notice << "</p>\n"_html;
  content << "<p><a class=\"button\" href=\"/admin/documents/new\" id=\"admin-add\">Add a document</a> "
             "<a class=\"button secondary\" href=\"/admin/uploads\" id=\"admin-uploads\">Uploads in progress</a></p>\n"_html;
  if (documents.empty()) {
    content << "<p class=\"empty\">No documents yet.</p>\n"_html;
    return layout(frame, content);
  }
  content << "<table class=\"documents admin\" id=\"documents\">\n<thead><tr><th scope=\"col\">Title</th>"
             "<th scope=\"col\">File</th><th scope=\"col\">Size</th>"_html
          << digest_header() << "<th scope=\"col\">Uploaded</th><th scope=\"col\">Actions</th></tr></thead>\n<tbody>\n"_html;
  for (const auto& document : documents) {
    const std::string base = "/admin/documents/" + std::to_string(document.id);
    content << "<tr id=\"document-"_html << document.id << "\">\n<td><strong class=\"title\">"_html
            << document.text.title << "</strong></td>\n"_html << file_cells(document)
            << "<td class=\"actions\"><a class=\"edit\" href=\""_html << base << "\">Edit</a> <a class=\"delete\" href=\""_html
            << base << "/delete\">Delete</a></td>\n</tr>\n"_html;
  }
  content << "</tbody>\n</table>\n"_html;
  return layout(frame, content);
}

Html admin_document_form_page(const PageFrame& frame, const Document* document, const DocumentFormState& form) {
  Html content;
  if (document != nullptr) {
    content << "<h1>Edit “"_html << document->text.title << "”</h1>\n"_html;
  } else {
    content << "<h1>Admin: add a document</h1>\n"_html;
  }
  content << "<p>Files chosen here go to the staff-only upload endpoint. "_html;
  if (document != nullptr) {
    content << "Choose a new file to replace the current one, or tick “Clear” to remove it; the old file is "
               "deleted from disk when you save."_html;
  }
  content << "</p>\n"_html << error_list(form.errors);
  const std::string action = document != nullptr ? "/admin/documents/" + std::to_string(document->id) : "/admin/documents";
  content << "<form method=\"post\" action=\""_html << action << "\" class=\"document-form\" id=\"document-form\">\n"_html
          << csrf_field(frame) << text_fields(form.text) << file_input(frame.upload_endpoint, false, document)
          << "<p><button type=\"submit\" class=\"button\" id=\"save\">Save</button> <a href=\"/admin/\">Cancel</a></p>\n</form>\n"_html;
  if (document != nullptr) {
    content << "<p><a class=\"delete\" href=\"/admin/documents/"_html << document->id
            << "/delete\">Delete this document</a></p>\n"_html;
  }
  return layout(frame, content);
}

Html admin_delete_page(const PageFrame& frame, const Document& document) {
  Html content;
  content << "<h1>Delete “"_html << document.text.title << "”?</h1>\n<p>The record is deleted"_html;
  if (document.file) {
    content << ", and its file <strong>"_html << document.file->file_name << "</strong> ("_html
            << format_size(document.file->size) << ") is removed from disk"_html;
  }
  content << ". This cannot be undone.</p>\n<form method=\"post\" action=\"/admin/documents/"_html << document.id
          << "/delete\" id=\"delete-form\">\n"_html << csrf_field(frame)
          << "<p><button type=\"submit\" class=\"button danger\" id=\"confirm-delete\">Delete</button> "
             "<a href=\"/admin/\">Cancel</a></p>\n</form>\n"_html;
  return layout(frame, content);
}

Html admin_uploads_page(const PageFrame& frame, const std::vector<UploadInProgress>& uploads,
                        const UploadLimits& limits, const std::string& notice) {
  Html content;
  content << "<h1>Uploads in progress</h1>\n"_html;
  if (!notice.empty()) content << "<p class=\"notice\" role=\"status\" id=\"notice\">"_html << notice << "</p>\n"_html;
  content << "<p>Uploads that received no chunk for "_html << format_duration(limits.stale_after)
          << " are stale; finished uploads whose form was never sent are removed after "_html
          << format_duration(limits.unclaimed_after)
          << ". The server collects both in the background; the button does it now.</p>\n"
             "<form method=\"post\" action=\"/admin/uploads/collect\" id=\"collect-form\">\n"_html
          << csrf_field(frame)
          << "<p><button type=\"submit\" class=\"button\" id=\"collect\">Collect stale uploads</button></p>\n</form>\n"_html;
  if (uploads.empty()) {
    content << "<p class=\"empty\" id=\"no-uploads\">No uploads in progress.</p>\n"_html;
    return layout(frame, content);
  }
  const auto now = std::chrono::system_clock::now();
  content << "<table class=\"uploads\" id=\"uploads\">\n<thead><tr><th scope=\"col\">Endpoint</th>"
             "<th scope=\"col\">Owner</th><th scope=\"col\">File</th><th scope=\"col\">Size</th>"
             "<th scope=\"col\">Chunks received</th><th scope=\"col\">State</th><th scope=\"col\">Last chunk</th>"
             "</tr></thead>\n<tbody>\n"_html;
  for (const auto& upload : uploads) {
    const UploadSummary& summary = upload.summary;
    const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - summary.last_activity);
    content << "<tr>\n<td class=\"mount\">"_html << upload.mount << "</td>\n<td class=\"owner\"><code>"_html
            << short_principal(summary.principal) << "</code></td>\n<td class=\"file-name\">"_html << summary.file_name
            << "</td>\n<td class=\"size\">"_html << format_size(summary.total_size.value_or(0))
            << "</td>\n<td class=\"chunks\" data-received=\""_html << summary.received_pieces << "\" data-total=\""_html
            << summary.expected_pieces.value_or(0) << "\">"_html << summary.received_pieces << " of "_html
            << summary.expected_pieces.value_or(0)
            << "</td>\n<td class=\"state\">"_html << (summary.complete ? "finished, form not sent yet" : "uploading")
            << "</td>\n<td class=\"age\">"_html << format_duration(std::max(age, std::chrono::seconds(0)))
            << " ago</td>\n</tr>\n"_html;
  }
  content << "</tbody>\n</table>\n"_html;
  return layout(frame, content);
}

std::string format_size(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  static constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string format_time(std::int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return text;
}

std::string format_duration(std::chrono::seconds duration) {
  const long long seconds = duration.count();
  if (seconds < 60) return std::to_string(seconds) + " s";
  if (seconds < 3600) return std::to_string(seconds / 60) + " min";
  if (seconds < 86400) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " d";
}

}  // namespace resumable::demo
