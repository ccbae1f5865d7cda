// resumable_demo: the demo application. Documents with a title, a description and a file uploaded
// through the widget; a public list with resumable downloads; an admin with its own staff-only
// upload endpoint. The routes are listed in src/app.h, the data dir layout below, and
// docs/demo.md walks through it.
//
// Data dir:
//   demo.sqlite3            records, admin accounts, sessions (in PostgreSQL with --database)
//   documents/              the records' files, under names the demo chose
//   uploads/public/         the public endpoint's uploads in progress (chunks/) and released files (files/)
//   uploads/staff/          the same for the staff-only endpoint
//   tls/                    the self-signed certificate and key of --tls self-signed
#include <civetweb.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "resumable/asset_handler.h"
#include "resumable/connection_guard.h"
#include "resumable/digest.h"
#include "resumable/filesystem_store.h"
#include "resumable/upload_endpoint.h"
#include "src/account_store.h"
#include "src/admin_setup.h"
#include "src/app.h"
#include "src/command_line.h"
#include "src/database.h"
#include "src/document_files.h"
#include "src/document_store.h"
#include "src/session_store.h"
#include "src/tls_certificate.h"
#include "src/upload_access.h"
#if RESUMABLE_DEMO_POSTGRESQL
#include "resumable/postgresql_registry.h"
#include "src/postgresql_database.h"
#endif
#if RESUMABLE_DEMO_S3
#include "resumable/s3_store.h"
#include "src/s3_document_objects.h"
#endif

// Compiled in by resumable_embed_files (CMakeLists.txt).
namespace resumable::demo::site {
std::span<const EmbeddedAsset> embedded_assets();  // demo/web/site, served at /static/
}
namespace resumable::demo::hash_tool {
std::span<const EmbeddedAsset> embedded_assets();  // demo/web/hash-tool, served at /tools/hash/
}

namespace {

using namespace resumable;
using namespace resumable::demo;

constexpr auto visitor_session_lifetime = std::chrono::hours(24 * 30);
constexpr auto admin_session_lifetime = std::chrono::hours(12);

void log_line(const std::string& message) { std::fprintf(stderr, "resumable_demo: %s\n", message.c_str()); }

int log_civetweb_message(const mg_connection*, const char* message) {
  log_line(message);
  return 1;
}

// CivetWeb's global state, for the life of the program; with TLS it also initialises OpenSSL.
struct CivetwebLibrary {
  explicit CivetwebLibrary(bool tls) : ok(!tls || (mg_init_library(MG_FEATURES_TLS) & MG_FEATURES_TLS) != 0) {
    if (!tls) mg_init_library(0);
  }
  bool ok;
  ~CivetwebLibrary() { mg_exit_library(); }
  CivetwebLibrary(const CivetwebLibrary&) = delete;
  CivetwebLibrary& operator=(const CivetwebLibrary&) = delete;
};

// mg_stop waits for running requests; everything the handlers use must outlive it.
struct StopContext {
  void operator()(mg_context* context) const { mg_stop(context); }
};
using RunningServer = std::unique_ptr<mg_context, StopContext>;

// The certificate and key to serve HTTPS with, or nullopt for plain HTTP (or on error: *failed).
std::optional<TlsFiles> tls_files(const DemoOptions& options, bool* failed) {
  std::string error;
  std::optional<TlsFiles> files;
  if (options.tls == TlsMode::off) return std::nullopt;
  if (options.tls == TlsMode::files) {
    files = TlsFiles{options.tls_cert, options.tls_key};
  } else if (const auto self_signed = ensure_self_signed(options.data_dir / "tls", &error)) {
    files = self_signed->files;
    std::printf("TLS: %s the self-signed certificate %s\n", self_signed->generated ? "generated" : "reusing",
                files->certificate.c_str());
  }
  const auto fingerprint = files ? sha256_fingerprint(files->certificate, &error) : std::nullopt;
  if (!fingerprint) {
    log_line(error);
    *failed = true;
    return std::nullopt;
  }
  std::printf("TLS: certificate SHA-256 fingerprint %s\n", fingerprint->c_str());
  return files;
}

// CivetWeb's init_ssl callback: the pair goes into its SSL context (1: done, -1: refuse to start).
int init_ssl(void* ssl_context, void* user_data) noexcept {
  try {
    std::string error;
    if (load_into_ssl_context(ssl_context, *static_cast<const TlsFiles*>(user_data), &error)) return 1;
    log_line(error);
  } catch (const std::exception& e) {
    log_line(e.what());
  }
  return -1;
}

// A failure at start-up that the operator must fix (a database that cannot be reached, a missing
// bucket): main() prints it and exits with 1.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::unique_ptr<Database> open_database(const DemoOptions& options) {
  if (!options.database) return std::make_unique<SqliteDatabase>(options.data_dir / "demo.sqlite3");
#if RESUMABLE_DEMO_POSTGRESQL
  // libpq's reason names the host and port; the URL itself is not repeated (it may hold a password).
  try {
    return std::make_unique<PostgresqlDatabase>(*options.database);
  } catch (const DatabaseError& e) {
    throw StartupError(e.what());
  }
#else
  throw StartupError("--database: this build has no PostgreSQL support (configure with -DRESUMABLE_POSTGRESQL=ON)");
#endif
}

// Each upload endpoint's registry lives in a schema of its own in the demo's database: a
// registry's collector owns every upload in its tables, and the public and staff endpoints keep
// their bytes in different folders.
constexpr const char* public_registry_schema = "resumable_demo_public_uploads";
constexpr const char* staff_registry_schema = "resumable_demo_staff_uploads";

std::shared_ptr<UploadRegistry> make_registry(const DemoOptions& options, const char* schema) {
  if (!options.database) return nullptr;
#if RESUMABLE_DEMO_POSTGRESQL
  // The registry creates its tables in the connection's default schema: its search_path.
  const std::string& url = *options.database;
  PostgresqlRegistryOptions registry;
  registry.conninfo = url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
  std::string error;
  auto made = make_postgresql_registry(registry, &error);
  if (!made) throw StartupError("cannot set up the upload registry in " + std::string(schema) + ": " + error);
  return made;
#else
  (void)schema;
  return nullptr;
#endif
}

#if RESUMABLE_DEMO_S3
S3Options s3_options(const DemoOptions& options) {
  S3Options s3;  // credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (S3Client reads them)
  s3.endpoint = *options.s3_endpoint;
  s3.bucket = options.s3_bucket;
  s3.region = options.s3_region;
  s3.path_style = options.s3_path_style;
  return s3;
}
#endif

// The --s3 bucket's documents (nullptr without --s3); checks that the bucket answers.
std::unique_ptr<DocumentObjects> connect_objects(const DemoOptions& options) {
  if (!options.s3_endpoint) return nullptr;
#if RESUMABLE_DEMO_S3
  std::string error;
  auto objects = connect_document_objects(s3_options(options), options.s3_prefix, &error);
  if (!objects) throw StartupError("cannot use the S3 bucket: " + error);
  return objects;
#else
  throw StartupError("--s3: this build has no S3 store (configure with -DRESUMABLE_S3=ON)");
#endif
}

// One endpoint's store: the filesystem store under `folder`, or with --s3 the S3 store under the
// bucket's prefix + "uploads/<name>/"; either keeps its records in `registry` when there is one.
std::shared_ptr<UploadStore> make_store(const DemoOptions& options, const std::filesystem::path& folder,
                                        const std::string& name, std::shared_ptr<UploadRegistry> registry,
                                        std::string* error) {
  if (options.s3_endpoint) {
#if RESUMABLE_DEMO_S3
    S3StoreOptions s3;
    s3.s3 = s3_options(options);
    s3.prefix = options.s3_prefix + "uploads/" + name + "/";
    s3.registry = std::move(registry);  // with --database: several instances over one bucket and prefix
    return make_s3_store(s3, error);
#else
    (void)name;
    *error = "built without the S3 store";
    return nullptr;
#endif
  }
  // upload_to is on one filesystem with documents/: adopting a file is a rename.
  FilesystemStoreOptions files{folder / "chunks", folder / "files"};
  files.registry = std::move(registry);
  return make_filesystem_store(files, error);
}

std::unique_ptr<UploadEndpoint> make_endpoint(std::shared_ptr<UploadStore> store, Access access,
                                              const UploadAccess& upload_access, const UploadLimits& limits,
                                              bool serve_widget, const char* label, const std::string& store_error) {
  if (!store) throw StartupError(std::string("cannot set up the ") + label + " upload store: " + store_error);
  EndpointOptions endpoint;
  std::string error;
  endpoint.store = std::move(store);
  endpoint.access = access;
  endpoint.authenticate = [&upload_access](mg_connection* connection) { return upload_access.principal_for(connection); };
  endpoint.limits = limits;
  endpoint.serve_widget = serve_widget;
  endpoint.log = [label](const std::string& message) { log_line(std::string(label) + " uploads: " + message); };
  auto created = UploadEndpoint::create(std::move(endpoint), &error);
  if (!created) throw std::runtime_error(std::string("cannot set up the ") + label + " upload endpoint: " + error);
  return created;
}

int serve(const DemoOptions& options, Database& database, AccountStore& accounts) {
  bool tls_failed = false;
  const std::optional<TlsFiles> tls = tls_files(options, &tls_failed);
  if (tls_failed) return 1;
  DocumentStore documents(database);
  SessionStore sessions(database, visitor_session_lifetime, admin_session_lifetime);
  DocumentFiles files(options.data_dir / "documents");
  // Other instances over the same database and folder may be between adopting a file and
  // committing its record right now: only files older than that could ever take are orphans.
  const auto orphan_age = options.database ? std::chrono::seconds(std::chrono::hours(1)) : std::chrono::seconds(0);
  if (const auto removed = files.remove_unreferenced(documents.stored_names(), orphan_age); removed > 0) {
    log_line("removed " + std::to_string(removed) + " file(s) that no record references");
  }
  sessions.remove_expired();

  const UploadAccess upload_access(sessions, log_line);
  UploadLimits limits;
  limits.stale_after = options.stale_after;
  // Both endpoints use login_required / staff_required rather than anonymous_allowed: every browser
  // gets a session principal, and a request without the session's CSRF header must be refused.
  // The widget is served once, by the public mount (/upload/widget/); the admin pages load it there.
  if (options.database) {
    auto guard = database.lock();
    database.create_schema(std::string("CREATE SCHEMA IF NOT EXISTS ") + public_registry_schema +
                           "; CREATE SCHEMA IF NOT EXISTS " + staff_registry_schema);
  }
  const auto objects = connect_objects(options);
  std::string public_error;
  std::string staff_error;
  const auto public_uploads = make_endpoint(
      make_store(options, options.data_dir / "uploads" / "public", "public",
                 make_registry(options, public_registry_schema), &public_error),
      Access::login_required, upload_access, limits, true, "public", public_error);
  const auto staff_uploads = make_endpoint(
      make_store(options, options.data_dir / "uploads" / "staff", "staff",
                 make_registry(options, staff_registry_schema), &staff_error),
      Access::staff_required, upload_access, limits, false, "staff", staff_error);
  DemoApp app(AppServices{documents, accounts, sessions, files, *public_uploads, *staff_uploads, limits, log_line,
                          objects.get()});
  AssetHandler static_files(site::embedded_assets(), "/static");
  AssetHandler hash_page(hash_tool::embedded_assets(), "/tools/hash", "/index.html");

  // Block the shutdown signals before CivetWeb starts its threads, so only sigwait sees them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGINT);
  sigaddset(&shutdown_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);

  // "s": CivetWeb serves TLS on that port.
  const std::string listening = host_for_url(options.host) + ":" + std::to_string(options.port) + (tls ? "s" : "");
  const char* civetweb_options[] = {"listening_ports", listening.c_str(), "num_threads", "16",
                                    "request_timeout_ms", "30000",
                                    // CivetWeb would answer CORS preflights itself, for every origin
                                    "access_control_allow_methods", "", nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_civetweb_message;
  callbacks.http_error = resumable::json_http_error;
  if (tls) callbacks.init_ssl = init_ssl;
  // user_data is the pair init_ssl loads; it outlives the server.
  RunningServer server(mg_start(&callbacks, tls ? const_cast<TlsFiles*>(&*tls) : nullptr, civetweb_options));
  if (!server) {
    log_line("could not listen on " + listening);
    return 1;
  }
  // One client address may hold 12 of the 16 workers: a client opening slow connections cannot
  // take them all (destroyed before mg_stop, below).
  auto guard = std::make_unique<resumable::ConnectionGuard>(server.get(), resumable::ConnectionGuardOptions{12, 0, {}});
  // Order matters: CivetWeb gives a request to the first pattern that matches, and the
  // application's "/" matches everything.
  public_uploads->mount(server.get(), "/upload");
  staff_uploads->mount(server.get(), "/admin/upload");
  static_files.mount(server.get());
  hash_page.mount(server.get());
  app.mount(server.get());

  mg_server_port ports[4];
  const int port_count = mg_get_server_ports(server.get(), 4, ports);
  const int port = port_count > 0 ? ports[0].port : static_cast<int>(options.port);
  const std::string origin = std::string(tls ? "https://" : "http://") + host_for_url(options.host) + ":" +
                             std::to_string(port);
  std::printf("resumable demo listening on %s/ (data in %s%s); Ctrl-C stops it\n", origin.c_str(),
              options.data_dir.c_str(), options.database ? ", records in PostgreSQL" : "");
  if (!accounts.any()) {
    std::printf("No admin account yet: see %s/admin/login for how to create one.\n", origin.c_str());
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&shutdown_signals, &signal_number);
  std::printf("resumable demo: stopping\n");
  std::fflush(stdout);
  guard.reset();
  server.reset();  // mg_stop: no handler runs after this
  return 0;
}

int run(const ParsedCommandLine& command_line) {
  const DemoOptions& options = command_line.options;
  if (!core::initialize_crypto()) {
    log_line("libsodium failed to initialise");
    return 1;
  }
  std::filesystem::create_directories(options.data_dir);
  const auto database = open_database(options);
  AccountStore accounts(*database);
  if (command_line.action == DemoAction::create_admin) {
    return create_admin_from_command_line(accounts, *options.create_admin);
  }
  if (!create_admin_from_environment(accounts)) return 2;
  const CivetwebLibrary civetweb(options.tls != TlsMode::off);
  if (!civetweb.ok) {
    log_line("CivetWeb could not initialise TLS (is it built with the tls feature?)");
    return 1;
  }
  return serve(options, *database, accounts);
}

}  // namespace

int main(int argc, char** argv) {
  const auto command_line = parse_command_line(argc, argv);
  switch (command_line.action) {
    case DemoAction::show_help: std::fputs(usage_text, stdout); return 0;
    case DemoAction::usage_error:
      std::fprintf(stderr, "resumable_demo: %s\n\n%s", command_line.error.c_str(), usage_text);
      return 2;
    case DemoAction::serve:
    case DemoAction::create_admin: break;
  }
  try {
    return run(command_line);
  } catch (const std::exception& e) {
    log_line(e.what());
    return 1;
  }
}
