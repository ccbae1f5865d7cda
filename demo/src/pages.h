// The demo's pages, as functions from data to Html (html.h escapes every string they are given).
// No page reads the request or the database: the routes (app.cpp) gather what a page shows.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "document_store.h"
#include "html.h"
#include "resumable/upload_endpoint.h"
#include "session_store.h"

namespace resumable::demo {

// What every page's frame needs: the session (for the CSRF token and who is logged in) and whether
// the page carries an upload widget, and which endpoint it talks to.
struct PageFrame {
  std::string title;
  const Session* session = nullptr;
  std::string upload_endpoint;  // empty: no widget on this page
};

// A form being shown again after a refusal: what was entered and what is wrong with it.
struct DocumentFormState {
  DocumentText text;
  std::vector<std::string> errors;
};

struct UploadInProgress {
  std::string mount;  // "public" or "staff"
  UploadSummary summary;
};

// Where a document's file is downloaded from.
std::string download_url(const Document& document);

Html document_list_page(const PageFrame& frame, const std::vector<Document>& documents,
                        std::optional<std::int64_t> just_saved);
Html document_form_page(const PageFrame& frame, const DocumentFormState& form);
Html message_page(const PageFrame& frame, const std::string& heading, const std::string& message);

Html login_page(const PageFrame& frame, bool admins_exist, const std::string& name, const std::string& error);
Html admin_document_list_page(const PageFrame& frame, const std::vector<Document>& documents,
                              const std::string& notice);
// `document` is the record being edited, or nullptr for a new one.
Html admin_document_form_page(const PageFrame& frame, const Document* document, const DocumentFormState& form);
Html admin_delete_page(const PageFrame& frame, const Document& document);
Html admin_uploads_page(const PageFrame& frame, const std::vector<UploadInProgress>& uploads,
                        const UploadLimits& limits, const std::string& notice);

// "1.5 MiB"; "2025-01-31 12:00:00 UTC"; "3 min".
std::string format_size(std::uint64_t bytes);
std::string format_time(std::int64_t unix_seconds);
std::string format_duration(std::chrono::seconds duration);

}  // namespace resumable::demo
