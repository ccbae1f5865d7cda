// Reading a posted document form: the text fields, checked, and the file reference.
//
// The file field carries only what the widget put there: the opaque token of a finished upload
// (64 hex digits). Anything else (a path, a file name, a URL) is refused here, before the server
// library is asked to claim it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "document_store.h"
#include "form_data.h"

namespace resumable::demo {

inline constexpr std::size_t max_title_characters = 200;
inline constexpr std::size_t max_description_characters = 5000;

struct DocumentSubmission {
  DocumentText text;
  std::optional<std::string> upload_token;  // well-formed, not yet claimed
  bool clear_file = false;                  // the widget's "Clear" checkbox (edit forms)
  std::vector<std::string> errors;          // for the person filling in the form
};

DocumentSubmission read_document_submission(const FormFields& form, bool file_required);

}  // namespace resumable::demo
