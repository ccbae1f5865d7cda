#include "document_input.h"

#include <algorithm>

namespace resumable::demo {

namespace {

std::string trim(std::string text) {
  const auto not_space = [](char c) { return c != ' ' && c != '\t' && c != '\n' && c != '\r'; };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

bool is_upload_token(const std::string& value) {
  return value.size() == 64 &&
         std::all_of(value.begin(), value.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// The text field `name`, checked; `errors` gets a sentence for each problem.
std::string read_text(const FormFields& form, const char* name, const char* label, std::size_t max_characters,
                      bool multi_line, std::vector<std::string>& errors) {
  bool repeated = false;
  const auto value = form.single(name, &repeated);
  if (repeated) {
    errors.push_back(std::string("The form sent the ") + label + " twice.");
    return {};
  }
  std::string text = trim(value.value_or(""));
  if (!is_valid_utf8(text)) {
    errors.push_back(std::string("The ") + label + " is not valid UTF-8 text.");
    return {};
  }
  if (has_control_characters(text, multi_line)) {
    errors.push_back(std::string("The ") + label + " contains control characters.");
    return {};
  }
  if (count_characters(text) > max_characters) {
    errors.push_back(std::string("The ") + label + " is longer than " + std::to_string(max_characters) + " characters.");
  }
  return text;
}

}  // namespace

DocumentSubmission read_document_submission(const FormFields& form, bool file_required) {
  DocumentSubmission submission;
  auto& errors = submission.errors;
  submission.text.title = read_text(form, "title", "title", max_title_characters, false, errors);
  if (submission.text.title.empty() && errors.empty()) errors.push_back("Give the document a title.");
  submission.text.description =
      read_text(form, "description", "description", max_description_characters, true, errors);

  bool repeated = false;
  const auto file = form.single("file", &repeated);
  if (repeated) {
    errors.push_back("Attach one file only.");
  } else if (file && !file->empty()) {
    if (is_upload_token(*file)) {
      submission.upload_token = *file;
    } else {
      errors.push_back("The file field does not hold an upload token. Choose the file with the form's file "
                       "picker and wait until it has uploaded (this page needs JavaScript).");
    }
  } else if (file_required) {
    errors.push_back("Choose a file and wait until it has uploaded.");
  }
  submission.clear_file = form.has("file-clear");
  return submission;
}

}  // namespace resumable::demo
