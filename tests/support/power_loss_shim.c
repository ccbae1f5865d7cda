// power_loss_shim: an LD_PRELOAD library that journals every change a process makes below one
// directory, so that a test can rebuild that directory as a power loss would have left it
// (tests/reliability/power_loss.mjs reads the journal; power_loss.test.mjs drives it).
//
//   RESUMABLE_POWER_ROOT=DIR         the directory whose subtree is journaled (must exist at start)
//   RESUMABLE_POWER_JOURNAL=FILE     the journal (outside DIR), appended to
//   RESUMABLE_POWER_CUT_AFTER=N      optional: the power fails right after the N-th journaled
//                                    operation (the process kills itself with SIGKILL)
//   RESUMABLE_POWER_CUT_KINDS=a,b    optional: count only these kinds for CUT_AFTER (create, mkdir,
//                                    write, size, falloc, sync, rename, unlink, rmdir)
//   RESUMABLE_POWER_CUT_NAME=NAME    optional: count only operations on files of that name (through
//                                    a descriptor opened by that name, or entries of that name)
//   RESUMABLE_POWER_REAL_SYNC=1      optional: also call the real fsync/fdatasync (default: not;
//                                    durability is decided by the journal, not by this machine's disk)
//   SIGUSR2                          the power fails now: at the next operation boundary (at once
//                                    when no thread is inside an intercepted call)
//
// What is journaled, per inode (an id: the inode number for what existed at start, a fresh id for
// every inode created while running): creation (open with O_CREAT that made the file, mkdir),
// writes with their bytes (write, pwrite, writev, pwritev, O_APPEND at the real end of file,
// O_DIRECT alike), size changes (O_TRUNC, ftruncate, truncate, fallocate, posix_fallocate), syncs
// (fsync, fdatasync on files and directories; sync and syncfs as "everything"), and directory entry
// changes (rename, unlink, rmdir, remove). Anything that would change the tree in a way this shim
// does not model (link, symlink, O_TMPFILE, shared writable mmap, copy_file_range, sendfile,
// RENAME_EXCHANGE, a rename into the tree from outside) is journaled as "unsupported", and the
// reader fails the test instead of guessing.
//
// Every intercepted call that touches the tree runs under one mutex: the real call and its journal
// record form one step, so the journal order is the order in which the steps took effect, and a
// power cut (which happens between steps) sees exactly the steps journaled. Writes through a
// descriptor the shim does not know (e.g. a dup) are not journaled; the reader compares its model
// with the real directory after every cut and fails the test if they differ.
//
// C, no allocation in the signal handler, nothing thrown; inert when RESUMABLE_POWER_ROOT is unset.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

enum record_type {
  rec_start = 1,
  rec_new_file = 2,
  rec_mkdir = 3,
  rec_write = 4,
  rec_size = 5,
  rec_falloc = 6,
  rec_sync = 7,
  rec_rename = 8,
  rec_unlink = 9,
  rec_rmdir = 10,
  rec_sync_all = 11,
  rec_unsupported = 12,
};

// Bit per kind, for RESUMABLE_POWER_CUT_KINDS.
enum kind_bit {
  kind_create = 1 << 0,
  kind_mkdir = 1 << 1,
  kind_write = 1 << 2,
  kind_size = 1 << 3,
  kind_falloc = 1 << 4,
  kind_sync = 1 << 5,
  kind_rename = 1 << 6,
  kind_unlink = 1 << 7,
  kind_rmdir = 1 << 8,
};

#define OUTSIDE_ID UINT64_C(0)
#define NEW_ID_BASE (UINT64_C(1) << 62)

// ---- the real functions ------------------------------------------------------------------------

static int (*real_open)(const char*, int, ...);
static int (*real_openat)(int, const char*, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static ssize_t (*real_pwritev)(int, const struct iovec*, int, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_truncate)(const char*, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static int (*real_posix_fallocate)(int, off_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static void (*real_sync)(void);
static int (*real_syncfs)(int);
static int (*real_rename)(const char*, const char*);
static int (*real_renameat)(int, const char*, int, const char*);
static int (*real_renameat2)(int, const char*, int, const char*, unsigned int);
static int (*real_unlink)(const char*);
static int (*real_unlinkat)(int, const char*, int);
static int (*real_rmdir)(const char*);
static int (*real_mkdir)(const char*, mode_t);
static int (*real_mkdirat)(int, const char*, mode_t);
static int (*real_link)(const char*, const char*);
static int (*real_linkat)(int, const char*, int, const char*, int);
static int (*real_symlink)(const char*, const char*);
static int (*real_symlinkat)(const char*, int, const char*);
static void* (*real_mmap)(void*, size_t, int, int, int, off_t);
static ssize_t (*real_copy_file_range)(int, off_t*, int, off_t*, size_t, unsigned int);
static ssize_t (*real_sendfile)(int, int, off_t*, size_t);

static void* next_symbol(const char* name) { return dlsym(RTLD_NEXT, name); }

static void resolve_real(void);
// Another library's constructor may call in before this one has run.
#define ENSURE() \
  do {                                    \
    if (real_mmap == NULL) resolve_real(); \
  } while (0)

static void resolve_real(void) {
  real_open = (int (*)(const char*, int, ...))next_symbol("open");
  real_openat = (int (*)(int, const char*, int, ...))next_symbol("openat");
  real_close = (int (*)(int))next_symbol("close");
  real_write = (ssize_t(*)(int, const void*, size_t))next_symbol("write");
  real_pwrite = (ssize_t(*)(int, const void*, size_t, off_t))next_symbol("pwrite");
  real_writev = (ssize_t(*)(int, const struct iovec*, int))next_symbol("writev");
  real_pwritev = (ssize_t(*)(int, const struct iovec*, int, off_t))next_symbol("pwritev");
  real_ftruncate = (int (*)(int, off_t))next_symbol("ftruncate");
  real_truncate = (int (*)(const char*, off_t))next_symbol("truncate");
  real_fallocate = (int (*)(int, int, off_t, off_t))next_symbol("fallocate");
  real_posix_fallocate = (int (*)(int, off_t, off_t))next_symbol("posix_fallocate");
  real_fsync = (int (*)(int))next_symbol("fsync");
  real_fdatasync = (int (*)(int))next_symbol("fdatasync");
  real_sync = (void (*)(void))next_symbol("sync");
  real_syncfs = (int (*)(int))next_symbol("syncfs");
  real_rename = (int (*)(const char*, const char*))next_symbol("rename");
  real_renameat = (int (*)(int, const char*, int, const char*))next_symbol("renameat");
  real_renameat2 = (int (*)(int, const char*, int, const char*, unsigned int))next_symbol("renameat2");
  real_unlink = (int (*)(const char*))next_symbol("unlink");
  real_unlinkat = (int (*)(int, const char*, int))next_symbol("unlinkat");
  real_rmdir = (int (*)(const char*))next_symbol("rmdir");
  real_mkdir = (int (*)(const char*, mode_t))next_symbol("mkdir");
  real_mkdirat = (int (*)(int, const char*, mode_t))next_symbol("mkdirat");
  real_link = (int (*)(const char*, const char*))next_symbol("link");
  real_linkat = (int (*)(int, const char*, int, const char*, int))next_symbol("linkat");
  real_symlink = (int (*)(const char*, const char*))next_symbol("symlink");
  real_symlinkat = (int (*)(const char*, int, const char*))next_symbol("symlinkat");
  real_mmap = (void* (*)(void*, size_t, int, int, int, off_t))next_symbol("mmap");
  real_copy_file_range =
      (ssize_t(*)(int, off_t*, int, off_t*, size_t, unsigned int))next_symbol("copy_file_range");
  real_sendfile = (ssize_t(*)(int, int, off_t*, size_t))next_symbol("sendfile");
}

// ---- state -------------------------------------------------------------------------------------

static int active;  // set once at load when configured
static char root[PATH_MAX];
static size_t root_length;
static int journal_fd = -1;
static int real_sync_wanted;
static uint64_t cut_after;  // 0: no counted cut
static unsigned cut_kinds = ~0u;
static uint64_t counted_ops;
static char cut_name[NAME_MAX + 1];  // empty: every name counts
static int step_named;                // the current step concerns a file named cut_name
static uint64_t next_new_id = NEW_ID_BASE;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int in_step;        // a thread is between taking `lock` and releasing it
static atomic_int cut_requested;  // SIGUSR2 arrived

struct tracked_fd {
  atomic_int used;  // read without the lock by the fast path
  int is_dir;
  int named;  // opened by the name RESUMABLE_POWER_CUT_NAME
  uint64_t id;
  dev_t dev;
  ino_t ino;
};
// A fixed table (never reallocated: the fast path reads it without the lock).
#define FD_TABLE_SIZE 65536
static struct tracked_fd* fds;
static const size_t fds_size = FD_TABLE_SIZE;

struct inode_id {
  dev_t dev;
  ino_t ino;
  uint64_t id;
};
static struct inode_id* ids;
static size_t ids_count, ids_capacity;

static _Noreturn void power_cut(void) {
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

static void on_cut_signal(int signal_number) {
  (void)signal_number;
  atomic_store(&cut_requested, 1);
  // No thread inside a step: nothing can be half done; cut now. Otherwise the thread in the step
  // cuts when its step (real call and journal record) is complete.
  if (atomic_load(&in_step) == 0) power_cut();
}

static void step_begin(void) {
  pthread_mutex_lock(&lock);
  step_named = 0;
  atomic_store(&in_step, 1);
  if (atomic_load(&cut_requested)) power_cut();
}

static void step_end(void) {
  if (atomic_load(&cut_requested)) power_cut();
  atomic_store(&in_step, 0);
  pthread_mutex_unlock(&lock);
}

// ---- the journal -------------------------------------------------------------------------------

static uint32_t fnv1a(uint32_t hash, const void* data, size_t length) {
  const unsigned char* bytes = (const unsigned char*)data;
  for (size_t i = 0; i < length; ++i) {
    hash ^= bytes[i];
    hash *= 16777619u;
  }
  return hash;
}

struct record {
  unsigned char head[600];
  size_t head_length;
  const void* data;
  size_t data_length;
};

static void put_u8(struct record* r, unsigned value) { r->head[r->head_length++] = (unsigned char)value; }
static void put_u32(struct record* r, uint32_t value) {
  for (int i = 0; i < 4; ++i) r->head[r->head_length++] = (unsigned char)(value >> (8 * i));
}
static void put_u64(struct record* r, uint64_t value) {
  for (int i = 0; i < 8; ++i) r->head[r->head_length++] = (unsigned char)(value >> (8 * i));
}
static void put_name(struct record* r, const char* name) {
  size_t length = strlen(name);
  if (length > 255) length = 255;  // names are at most NAME_MAX bytes
  r->head[r->head_length++] = (unsigned char)length;
  memcpy(r->head + r->head_length, name, length);
  r->head_length += length;
}

static void begin_record(struct record* r, enum record_type type) {
  r->head_length = 4;  // the payload length, filled in by emit
  r->data = NULL;
  r->data_length = 0;
  put_u8(r, (unsigned)type);
}

// Frame: u32 payload length (type byte included), payload, u32 FNV-1a of the payload. One writev
// (looped on short writes); the reader ignores a torn last record.
static void emit(struct record* r, unsigned kind) {
  const uint32_t payload = (uint32_t)(r->head_length - 4 + r->data_length);
  for (int i = 0; i < 4; ++i) r->head[i] = (unsigned char)(payload >> (8 * i));
  uint32_t check = fnv1a(2166136261u, r->head + 4, r->head_length - 4);
  if (r->data_length > 0) check = fnv1a(check, r->data, r->data_length);
  unsigned char tail[4];
  for (int i = 0; i < 4; ++i) tail[i] = (unsigned char)(check >> (8 * i));
  struct iovec parts[3] = {{r->head, r->head_length}, {(void*)r->data, r->data_length}, {tail, 4}};
  int count = 3;
  struct iovec* at = parts;
  while (count > 0) {
    const ssize_t n = real_writev(journal_fd, at, count);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      static const char message[] = "power_loss_shim: cannot write the journal\n";
      (void)!real_write(2, message, sizeof message - 1);
      abort();
    }
    size_t left = (size_t)n;
    while (count > 0 && left >= at->iov_len) {
      left -= at->iov_len;
      ++at;
      --count;
    }
    if (count > 0) {
      at->iov_base = (char*)at->iov_base + left;
      at->iov_len -= left;
    }
  }
  if (kind != 0 && (kind & cut_kinds) != 0 && (cut_name[0] == '\0' || step_named)) {
    ++counted_ops;
    if (cut_after != 0 && counted_ops >= cut_after) power_cut();
  }
}

static void journal_unsupported(const char* what, const char* path) {
  if (journal_fd < 0) return;
  struct record r;
  begin_record(&r, rec_unsupported);
  // A note for the reader of the journal: a long path is cut, by design, at a bounded length.
  char text[512];
  snprintf(text, sizeof text, "%.63s %.440s", what, path != NULL ? path : "");
  put_name(&r, text);
  emit(&r, 0);
}

// ---- inode ids and descriptors -----------------------------------------------------------------

static uint64_t id_of(dev_t dev, ino_t ino) {
  for (size_t i = ids_count; i-- > 0;) {
    if (ids[i].dev == dev && ids[i].ino == ino) return ids[i].id;
  }
  return (uint64_t)ino;  // existed when the process started
}

static uint64_t new_id(dev_t dev, ino_t ino) {
  const uint64_t id = next_new_id++;
  for (size_t i = 0; i < ids_count; ++i) {
    if (ids[i].dev == dev && ids[i].ino == ino) {  // an inode number reused for a new inode
      ids[i].id = id;
      return id;
    }
  }
  if (ids_count == ids_capacity) {
    const size_t capacity = ids_capacity == 0 ? 256 : ids_capacity * 2;
    struct inode_id* grown = (struct inode_id*)realloc(ids, capacity * sizeof *grown);
    if (grown == NULL) abort();
    ids = grown;
    ids_capacity = capacity;
  }
  ids[ids_count].dev = dev;
  ids[ids_count].ino = ino;
  ids[ids_count].id = id;
  ++ids_count;
  return id;
}

static void journal_unsupported(const char* what, const char* path);

static void track(int fd, const struct stat* info, const char* name) {
  if (fd < 0) return;
  if ((size_t)fd >= fds_size) {
    journal_unsupported("descriptor beyond the shim's table", "");
    return;
  }
  fds[fd].is_dir = S_ISDIR(info->st_mode);
  fds[fd].named = name != NULL && cut_name[0] != '\0' && strcmp(name, cut_name) == 0;
  fds[fd].dev = info->st_dev;
  fds[fd].ino = info->st_ino;
  fds[fd].id = id_of(info->st_dev, info->st_ino);
  atomic_store(&fds[fd].used, 1);
}

static void untrack(int fd) {
  if (fds != NULL && fd >= 0 && (size_t)fd < fds_size) atomic_store(&fds[fd].used, 0);
}

// Unlocked peek, for the fast path of calls on descriptors outside the tree.
static int maybe_tracked(int fd) {
  return active && fd >= 0 && (size_t)fd < fds_size && atomic_load(&fds[fd].used);
}

// Under the lock: the tracked entry for fd if it still names the same inode.
static struct tracked_fd* tracked_entry(int fd) {
  if (fd < 0 || (size_t)fd >= fds_size || !atomic_load(&fds[fd].used)) return NULL;
  struct stat info;
  if (fstat(fd, &info) != 0 || info.st_dev != fds[fd].dev || info.st_ino != fds[fd].ino) {
    atomic_store(&fds[fd].used, 0);  // closed behind our back and reused
    return NULL;
  }
  step_named = fds[fd].named;
  return &fds[fd];
}

// ---- paths -------------------------------------------------------------------------------------

static int under_root(const char* path) {
  return strncmp(path, root, root_length) == 0 && (path[root_length] == '\0' || path[root_length] == '/');
}

// Where an entry lives: its directory (resolved) and its name. Returns 0 when the entry is in a
// directory of the tree; 1 when it is outside; -1 when it cannot be resolved (the call then fails
// on its own, or is outside).
struct entry {
  char directory[PATH_MAX];
  char name[NAME_MAX + 1];
  uint64_t directory_id;
  char full[PATH_MAX + NAME_MAX + 2];
};

static int locate(int dirfd, const char* path, struct entry* out) {
  if (path == NULL || *path == '\0') return -1;
  char joined[PATH_MAX * 2];
  if (path[0] == '/' || dirfd == AT_FDCWD) {
    snprintf(joined, sizeof joined, "%s", path);
  } else {
    char link[64], base[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    const ssize_t n = readlink(link, base, sizeof base - 1);
    if (n < 0) return -1;
    base[n] = '\0';
    snprintf(joined, sizeof joined, "%s/%s", base, path);
  }
  size_t length = strlen(joined);
  while (length > 1 && joined[length - 1] == '/') joined[--length] = '\0';
  char* slash = strrchr(joined, '/');
  const char* name;
  char parent[PATH_MAX * 2];
  if (slash == NULL) {
    snprintf(parent, sizeof parent, ".");
    name = joined;
  } else {
    if (slash == joined) {
      snprintf(parent, sizeof parent, "/");
    } else {
      *slash = '\0';
      snprintf(parent, sizeof parent, "%s", joined);
    }
    name = slash + 1;
  }
  if (strlen(name) > NAME_MAX) return -1;
  if (realpath(parent, out->directory) == NULL) return -1;
  snprintf(out->name, sizeof out->name, "%s", name);
  snprintf(out->full, sizeof out->full, "%s/%s", out->directory, out->name);
  if (!under_root(out->directory)) {
    // The root itself (opened to fsync it) lives outside the tree but is part of it.
    return 1;
  }
  if (strcmp(out->name, ".") == 0 || strcmp(out->name, "..") == 0) return -1;
  struct stat info;
  if (stat(out->directory, &info) != 0) return -1;
  out->directory_id = id_of(info.st_dev, info.st_ino);
  return 0;
}

// ---- set-up ------------------------------------------------------------------------------------

__attribute__((constructor)) static void power_loss_shim_init(void) {
  resolve_real();
  const char* root_env = getenv("RESUMABLE_POWER_ROOT");
  const char* journal_env = getenv("RESUMABLE_POWER_JOURNAL");
  if (root_env == NULL || journal_env == NULL || *root_env == '\0' || *journal_env == '\0') return;
  if (realpath(root_env, root) == NULL) {
    fprintf(stderr, "power_loss_shim: RESUMABLE_POWER_ROOT %s: %s\n", root_env, strerror(errno));
    abort();
  }
  root_length = strlen(root);
  fds = (struct tracked_fd*)calloc(FD_TABLE_SIZE, sizeof *fds);
  if (fds == NULL) abort();
  journal_fd = real_open(journal_env, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (journal_fd < 0) {
    fprintf(stderr, "power_loss_shim: journal %s: %s\n", journal_env, strerror(errno));
    abort();
  }
  const char* cut = getenv("RESUMABLE_POWER_CUT_AFTER");
  if (cut != NULL) cut_after = strtoull(cut, NULL, 10);
  const char* kinds = getenv("RESUMABLE_POWER_CUT_KINDS");
  if (kinds != NULL && *kinds != '\0') {
    static const struct {
      const char* name;
      unsigned bit;
    } names[] = {{"create", kind_create}, {"mkdir", kind_mkdir},   {"write", kind_write},
                 {"size", kind_size},     {"falloc", kind_falloc}, {"sync", kind_sync},
                 {"rename", kind_rename}, {"unlink", kind_unlink}, {"rmdir", kind_rmdir}};
    cut_kinds = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
      const size_t n = strlen(names[i].name);
      for (const char* at = kinds; (at = strstr(at, names[i].name)) != NULL; at += n) {
        if ((at == kinds || at[-1] == ',') && (at[n] == '\0' || at[n] == ',')) cut_kinds |= names[i].bit;
      }
    }
  }
  const char* name = getenv("RESUMABLE_POWER_CUT_NAME");
  if (name != NULL) snprintf(cut_name, sizeof cut_name, "%s", name);
  const char* real = getenv("RESUMABLE_POWER_REAL_SYNC");
  real_sync_wanted = real != NULL && strcmp(real, "1") == 0;
  struct stat info;
  if (stat(root, &info) != 0) abort();
  struct record r;
  begin_record(&r, rec_start);
  put_u64(&r, (uint64_t)info.st_ino);
  put_u32(&r, (uint32_t)getpid());
  emit(&r, 0);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_cut_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR2, &action, NULL);
  active = 1;
}

// ---- opening and closing -----------------------------------------------------------------------

static int open_common(int dirfd, const char* path, int flags, mode_t mode, int at) {
  ENSURE();
  if (!active) return at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
  struct entry e;
  step_begin();
  const int where = locate(at ? dirfd : AT_FDCWD, path, &e);
  const int tracked_parent = where == 0;
  const int is_root = where == 1 && strcmp(e.full, root) == 0;
  int existed = 1;
  if (tracked_parent && (flags & O_CREAT)) {
    struct stat before;
    existed = lstat(e.full, &before) == 0;
  }
  if (tracked_parent && (flags & O_TMPFILE) == O_TMPFILE) journal_unsupported("O_TMPFILE", e.full);
  const int fd = at ? real_openat(dirfd, path, flags, mode) : real_open(path, flags, mode);
  const int saved = errno;
  if (fd >= 0 && (tracked_parent || is_root)) {
    struct stat info;
    if (fstat(fd, &info) == 0 && (S_ISREG(info.st_mode) || S_ISDIR(info.st_mode))) {
      step_named = tracked_parent && cut_name[0] != '\0' && strcmp(e.name, cut_name) == 0;
      if (!existed) {
        const uint64_t id = new_id(info.st_dev, info.st_ino);
        struct record r;
        begin_record(&r, rec_new_file);
        put_u64(&r, id);
        put_u64(&r, e.directory_id);
        put_name(&r, e.name);
        emit(&r, kind_create);
      } else if ((flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY && S_ISREG(info.st_mode)) {
        struct record r;
        begin_record(&r, rec_size);
        put_u64(&r, id_of(info.st_dev, info.st_ino));
        put_u64(&r, 0);
        emit(&r, kind_size);
      }
      track(fd, &info, tracked_parent ? e.name : NULL);
    }
  } else if (fd >= 0) {
    untrack(fd);
  }
  step_end();
  errno = saved;
  return fd;
}

static mode_t mode_argument(int flags, va_list args) {
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) return (mode_t)va_arg(args, int);
  return 0;
}

int open(const char* path, int flags, ...) {
  ENSURE();
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return open_common(AT_FDCWD, path, flags, mode, 0);
}

int open64(const char* path, int flags, ...) {
  ENSURE();
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return open_common(AT_FDCWD, path, flags, mode, 0);
}

int openat(int dirfd, const char* path, int flags, ...) {
  ENSURE();
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return open_common(dirfd, path, flags, mode, 1);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  ENSURE();
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_argument(flags, args);
  va_end(args);
  return open_common(dirfd, path, flags, mode, 1);
}

int __open_2(const char* path, int flags) { return open_common(AT_FDCWD, path, flags, 0, 0); }
int __open64_2(const char* path, int flags) { return open_common(AT_FDCWD, path, flags, 0, 0); }
int __openat_2(int dirfd, const char* path, int flags) { return open_common(dirfd, path, flags, 0, 1); }
int __openat64_2(int dirfd, const char* path, int flags) { return open_common(dirfd, path, flags, 0, 1); }

int creat(const char* path, mode_t mode) { return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }
int creat64(const char* path, mode_t mode) { return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, 0); }

int close(int fd) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_close(fd);
  step_begin();
  untrack(fd);
  const int result = real_close(fd);
  const int saved = errno;
  step_end();
  errno = saved;
  return result;
}

// ---- data --------------------------------------------------------------------------------------

static void journal_write(uint64_t id, uint64_t offset, const void* data, size_t length) {
  const unsigned char* bytes = (const unsigned char*)data;
  do {  // a record holds at most 1 GiB
    const size_t piece = length < ((size_t)1 << 30) ? length : (size_t)1 << 30;
    struct record r;
    begin_record(&r, rec_write);
    put_u64(&r, id);
    put_u64(&r, offset);
    put_u32(&r, (uint32_t)piece);
    r.data = bytes;
    r.data_length = piece;
    emit(&r, piece == length ? kind_write : 0);  // counted once, after its last piece
    bytes += piece;
    offset += piece;
    length -= piece;
  } while (length > 0);
}

// The offset a plain write() lands at: the end of file with O_APPEND (known after the call),
// the file position otherwise (known before it).
static ssize_t positioned_write(int fd, const struct iovec* parts, int count, int vector) {
  ENSURE();
  struct tracked_fd* t = tracked_entry(fd);
  if (t == NULL) return vector ? real_writev(fd, parts, count) : real_write(fd, parts[0].iov_base, parts[0].iov_len);
  const uint64_t id = t->id;
  const int append = (fcntl(fd, F_GETFL) & O_APPEND) != 0;
  const off_t position = append ? 0 : lseek(fd, 0, SEEK_CUR);
  const ssize_t n = vector ? real_writev(fd, parts, count) : real_write(fd, parts[0].iov_base, parts[0].iov_len);
  if (n <= 0) return n;
  uint64_t offset = (uint64_t)position;
  if (append) {
    struct stat info;
    if (fstat(fd, &info) != 0) abort();
    offset = (uint64_t)info.st_size - (uint64_t)n;
  }
  size_t left = (size_t)n;
  for (int i = 0; i < count && left > 0; ++i) {
    const size_t piece = parts[i].iov_len < left ? parts[i].iov_len : left;
    journal_write(id, offset, parts[i].iov_base, piece);
    offset += piece;
    left -= piece;
  }
  return n;
}

ssize_t write(int fd, const void* data, size_t length) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_write(fd, data, length);
  step_begin();
  struct iovec part = {(void*)data, length};
  const ssize_t n = positioned_write(fd, &part, 1, 0);
  const int saved = errno;
  step_end();
  errno = saved;
  return n;
}

ssize_t writev(int fd, const struct iovec* parts, int count) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_writev(fd, parts, count);
  step_begin();
  const ssize_t n = positioned_write(fd, parts, count, 1);
  const int saved = errno;
  step_end();
  errno = saved;
  return n;
}

static ssize_t pwrite_common(int fd, const struct iovec* parts, int count, off_t offset) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_pwritev(fd, parts, count, offset);
  step_begin();
  ssize_t n;
  struct tracked_fd* t = tracked_entry(fd);
  if (t == NULL) {
    n = count == 1 ? real_pwrite(fd, parts[0].iov_base, parts[0].iov_len, offset) : real_pwritev(fd, parts, count, offset);
  } else {
    const uint64_t id = t->id;
    n = count == 1 ? real_pwrite(fd, parts[0].iov_base, parts[0].iov_len, offset) : real_pwritev(fd, parts, count, offset);
    size_t left = n > 0 ? (size_t)n : 0;
    uint64_t at = (uint64_t)offset;
    for (int i = 0; i < count && left > 0; ++i) {
      const size_t piece = parts[i].iov_len < left ? parts[i].iov_len : left;
      journal_write(id, at, parts[i].iov_base, piece);
      at += piece;
      left -= piece;
    }
  }
  const int saved = errno;
  step_end();
  errno = saved;
  return n;
}

ssize_t pwrite(int fd, const void* data, size_t length, off_t offset) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_pwrite(fd, data, length, offset);
  struct iovec part = {(void*)data, length};
  return pwrite_common(fd, &part, 1, offset);
}

ssize_t pwrite64(int fd, const void* data, size_t length, off_t offset) { return pwrite(fd, data, length, offset); }

ssize_t pwritev(int fd, const struct iovec* parts, int count, off_t offset) {
  ENSURE();
  return pwrite_common(fd, parts, count, offset);
}

ssize_t pwritev64(int fd, const struct iovec* parts, int count, off_t offset) {
  ENSURE();
  return pwrite_common(fd, parts, count, offset);
}

static void journal_size(uint64_t id, uint64_t size) {
  struct record r;
  begin_record(&r, rec_size);
  put_u64(&r, id);
  put_u64(&r, size);
  emit(&r, kind_size);
}

int ftruncate(int fd, off_t length) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_ftruncate(fd, length);
  step_begin();
  struct tracked_fd* t = tracked_entry(fd);
  const int result = real_ftruncate(fd, length);
  const int saved = errno;
  if (result == 0 && t != NULL) journal_size(t->id, (uint64_t)length);
  step_end();
  errno = saved;
  return result;
}

int ftruncate64(int fd, off_t length) { return ftruncate(fd, length); }

int truncate(const char* path, off_t length) {
  ENSURE();
  if (!active) return real_truncate(path, length);
  step_begin();
  char full[PATH_MAX];
  struct stat info;
  const int tracked = realpath(path, full) != NULL && under_root(full) && stat(full, &info) == 0;
  const int result = real_truncate(path, length);
  const int saved = errno;
  if (result == 0 && tracked) journal_size(id_of(info.st_dev, info.st_ino), (uint64_t)length);
  step_end();
  errno = saved;
  return result;
}

int truncate64(const char* path, off_t length) { return truncate(path, length); }

static void journal_falloc(uint64_t id, int mode, off_t offset, off_t length) {
  struct record r;
  begin_record(&r, rec_falloc);
  put_u64(&r, id);
  put_u32(&r, (uint32_t)mode);
  put_u64(&r, (uint64_t)offset);
  put_u64(&r, (uint64_t)length);
  emit(&r, kind_falloc);
}

int fallocate(int fd, int mode, off_t offset, off_t length) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_fallocate(fd, mode, offset, length);
  step_begin();
  struct tracked_fd* t = tracked_entry(fd);
  const int result = real_fallocate(fd, mode, offset, length);
  const int saved = errno;
  if (result == 0 && t != NULL) journal_falloc(t->id, mode, offset, length);
  step_end();
  errno = saved;
  return result;
}

int fallocate64(int fd, int mode, off_t offset, off_t length) { return fallocate(fd, mode, offset, length); }

int posix_fallocate(int fd, off_t offset, off_t length) {
  ENSURE();
  if (!maybe_tracked(fd)) return real_posix_fallocate(fd, offset, length);
  step_begin();
  struct tracked_fd* t = tracked_entry(fd);
  const int result = real_posix_fallocate(fd, offset, length);  // returns the error, not -1
  if (result == 0 && t != NULL) journal_falloc(t->id, 0, offset, length);
  step_end();
  return result;
}

int posix_fallocate64(int fd, off_t offset, off_t length) { return posix_fallocate(fd, offset, length); }

static int sync_common(int fd, int data_only) {
  ENSURE();
  int (*real)(int) = data_only ? real_fdatasync : real_fsync;
  if (!maybe_tracked(fd)) return real(fd);
  step_begin();
  struct tracked_fd* t = tracked_entry(fd);
  int result;
  if (t == NULL) {
    result = real(fd);
  } else {
    result = real_sync_wanted ? real(fd) : 0;
    if (result == 0) {
      struct record r;
      begin_record(&r, rec_sync);
      put_u64(&r, t->id);
      put_u8(&r, (unsigned)data_only);
      emit(&r, kind_sync);
    }
  }
  const int saved = errno;
  step_end();
  errno = saved;
  return result;
}

int fsync(int fd) { return sync_common(fd, 0); }
int fdatasync(int fd) { return sync_common(fd, 1); }

void sync(void) {
  ENSURE();
  if (!active) {
    real_sync();
    return;
  }
  step_begin();
  real_sync();
  struct record r;
  begin_record(&r, rec_sync_all);
  emit(&r, kind_sync);
  step_end();
}

int syncfs(int fd) {
  ENSURE();
  if (!active) return real_syncfs(fd);
  step_begin();
  const int result = real_syncfs(fd);
  const int saved = errno;
  if (result == 0) {
    struct record r;
    begin_record(&r, rec_sync_all);
    emit(&r, kind_sync);
  }
  step_end();
  errno = saved;
  return result;
}

// ---- directory entries -------------------------------------------------------------------------

static int rename_common(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned flags,
                         int which) {
  ENSURE();
  int result;
  if (!active) {
    if (which == 0) return real_rename(oldpath, newpath);
    if (which == 1) return real_renameat(olddirfd, oldpath, newdirfd, newpath);
    return real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
  }
  step_begin();
  struct entry from, to;
  const int from_where = locate(which == 0 ? AT_FDCWD : olddirfd, oldpath, &from);
  const int to_where = locate(which == 0 ? AT_FDCWD : newdirfd, newpath, &to);
  if (which == 0) {
    result = real_rename(oldpath, newpath);
  } else if (which == 1) {
    result = real_renameat(olddirfd, oldpath, newdirfd, newpath);
  } else {
    result = real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
  }
  const int saved = errno;
  if (result == 0 && (from_where == 0 || to_where == 0)) {
    if (from_where != 0 || (flags & RENAME_EXCHANGE)) {
      journal_unsupported("rename into the tree or exchange", to.full);
    } else {
      step_named = cut_name[0] != '\0' && (strcmp(from.name, cut_name) == 0 || strcmp(to.name, cut_name) == 0);
      struct record r;
      begin_record(&r, rec_rename);
      put_u64(&r, from.directory_id);
      put_name(&r, from.name);
      put_u64(&r, to_where == 0 ? to.directory_id : OUTSIDE_ID);
      put_name(&r, to_where == 0 ? to.name : "");
      emit(&r, kind_rename);
    }
  }
  step_end();
  errno = saved;
  return result;
}

int rename(const char* oldpath, const char* newpath) { return rename_common(AT_FDCWD, oldpath, AT_FDCWD, newpath, 0, 0); }
int renameat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath) {
  ENSURE();
  return rename_common(olddirfd, oldpath, newdirfd, newpath, 0, 1);
}
int renameat2(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, unsigned int flags) {
  ENSURE();
  return rename_common(olddirfd, oldpath, newdirfd, newpath, flags, 2);
}

static void journal_removal(enum record_type type, const struct entry* e) {
  step_named = cut_name[0] != '\0' && strcmp(e->name, cut_name) == 0;
  struct record r;
  begin_record(&r, type);
  put_u64(&r, e->directory_id);
  put_name(&r, e->name);
  emit(&r, type == rec_rmdir ? kind_rmdir : kind_unlink);
}

static int remove_common(int dirfd, const char* path, int directory, int which) {
  ENSURE();
  // which: 0 unlink/rmdir by path, 1 unlinkat
  if (!active) {
    if (which == 1) return real_unlinkat(dirfd, path, directory ? AT_REMOVEDIR : 0);
    return directory ? real_rmdir(path) : real_unlink(path);
  }
  step_begin();
  struct entry e;
  const int where = locate(which == 1 ? dirfd : AT_FDCWD, path, &e);
  int result;
  if (which == 1) {
    result = real_unlinkat(dirfd, path, directory ? AT_REMOVEDIR : 0);
  } else {
    result = directory ? real_rmdir(path) : real_unlink(path);
  }
  const int saved = errno;
  if (result == 0 && where == 0) journal_removal(directory ? rec_rmdir : rec_unlink, &e);
  if (result == 0 && where == 1 && strcmp(e.full, root) == 0) journal_unsupported("removing the root", e.full);
  step_end();
  errno = saved;
  return result;
}

int unlink(const char* path) { return remove_common(AT_FDCWD, path, 0, 0); }
int rmdir(const char* path) { return remove_common(AT_FDCWD, path, 1, 0); }
int unlinkat(int dirfd, const char* path, int flags) {
  ENSURE();
  return remove_common(dirfd, path, (flags & AT_REMOVEDIR) != 0, 1);
}

// glibc's remove() calls its internal unlink and rmdir, which this library cannot see.
int remove(const char* path) {
  ENSURE();
  const int result = remove_common(AT_FDCWD, path, 0, 0);
  if (result == 0 || errno != EISDIR) return result;
  return remove_common(AT_FDCWD, path, 1, 0);
}

static int mkdir_common(int dirfd, const char* path, mode_t mode, int at) {
  ENSURE();
  if (!active) return at ? real_mkdirat(dirfd, path, mode) : real_mkdir(path, mode);
  step_begin();
  struct entry e;
  const int where = locate(at ? dirfd : AT_FDCWD, path, &e);
  const int result = at ? real_mkdirat(dirfd, path, mode) : real_mkdir(path, mode);
  const int saved = errno;
  struct stat info;
  if (result == 0 && where == 0 && stat(e.full, &info) == 0) {
    struct record r;
    begin_record(&r, rec_mkdir);
    put_u64(&r, new_id(info.st_dev, info.st_ino));
    put_u64(&r, e.directory_id);
    put_name(&r, e.name);
    emit(&r, kind_mkdir);
  }
  step_end();
  errno = saved;
  return result;
}

int mkdir(const char* path, mode_t mode) { return mkdir_common(AT_FDCWD, path, mode, 0); }
int mkdirat(int dirfd, const char* path, mode_t mode) { return mkdir_common(dirfd, path, mode, 1); }

// ---- what the model does not cover: journaled as unsupported when it touches the tree ----------

static void unsupported_if_inside(int dirfd, const char* path, const char* what) {
  ENSURE();
  if (!active) return;
  struct entry e;
  step_begin();
  if (locate(dirfd, path, &e) == 0) journal_unsupported(what, e.full);
  step_end();
}

int link(const char* oldpath, const char* newpath) {
  ENSURE();
  unsupported_if_inside(AT_FDCWD, newpath, "link");
  return real_link(oldpath, newpath);
}

int linkat(int olddirfd, const char* oldpath, int newdirfd, const char* newpath, int flags) {
  ENSURE();
  unsupported_if_inside(newdirfd, newpath, "linkat");
  return real_linkat(olddirfd, oldpath, newdirfd, newpath, flags);
}

int symlink(const char* target, const char* linkpath) {
  ENSURE();
  unsupported_if_inside(AT_FDCWD, linkpath, "symlink");
  return real_symlink(target, linkpath);
}

int symlinkat(const char* target, int newdirfd, const char* linkpath) {
  ENSURE();
  unsupported_if_inside(newdirfd, linkpath, "symlinkat");
  return real_symlinkat(target, newdirfd, linkpath);
}

void* mmap(void* address, size_t length, int protection, int flags, int fd, off_t offset) {
  ENSURE();
  if (maybe_tracked(fd) && (protection & PROT_WRITE) && (flags & MAP_SHARED)) {
    step_begin();
    journal_unsupported("shared writable mmap", "");
    step_end();
  }
  return real_mmap(address, length, protection, flags, fd, offset);
}

void* mmap64(void* address, size_t length, int protection, int flags, int fd, off_t offset) {
  ENSURE();
  return mmap(address, length, protection, flags, fd, offset);
}

ssize_t copy_file_range(int in, off_t* in_offset, int out, off_t* out_offset, size_t length, unsigned int flags) {
  ENSURE();
  if (maybe_tracked(out)) {
    step_begin();
    journal_unsupported("copy_file_range", "");
    step_end();
  }
  return real_copy_file_range(in, in_offset, out, out_offset, length, flags);
}

ssize_t sendfile(int out, int in, off_t* offset, size_t count) {
  ENSURE();
  if (maybe_tracked(out)) {
    step_begin();
    journal_unsupported("sendfile", "");
    step_end();
  }
  return real_sendfile(out, in, offset, count);
}

ssize_t sendfile64(int out, int in, off_t* offset, size_t count) { return sendfile(out, in, offset, count); }
