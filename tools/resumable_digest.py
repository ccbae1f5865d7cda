#!/usr/bin/env python3
"""Reference implementation of the resumable tree digest (docs/digest.md), standard library only.

    python3 resumable_digest.py FILE...          prints "<hex>  <name>" per file, like b2sum
    python3 resumable_digest.py --check LIST...  checks such lines ("<name>: OK" / "<name>: FAILED")
    python3 resumable_digest.py --vectors        prints the golden vectors (tests/vectors/tree_vectors.json)

"-" (or no FILE) is standard input. Exit status: 0 when every file was read (and, with --check,
matched), 1 otherwise, 2 on a usage error.

As a module: leaf_digests, chunk_digest, file_digest, chunk_digest_from_leaves,
file_digest_from_leaves and is_leaf_aligned. A source is bytes-like, a path, or a binary file object.
"""
import argparse
import array
import hashlib
import json
import os
import sys

LEAF_BYTES = 1 << 20
DIGEST_BYTES = 32
# BLAKE2b personalization strings; hashlib zero-pads them to 16 bytes, as libsodium is given them.
PERSON_LEAF = b"rsm-leaf-v1"
PERSON_CHUNK = b"rsm-chunk-v1"
PERSON_ROOT = b"rsm-root-v1"
PERSON_BYTES = b"rsm-bytes-v1"


def _hasher(person):
    return hashlib.blake2b(digest_size=DIGEST_BYTES, person=person)


def leaf_count(size):
    """Leaves of a file of `size` bytes: max(1, ceil(size / LEAF_BYTES)); the empty file has one."""
    return max(1, -(-size // LEAF_BYTES))


def is_leaf_aligned(offset, size, total_size):
    """Whether the chunk [offset, offset + size) of a file of total_size bytes starts on a leaf
    boundary and ends on one or at the end of the file (its digest then comes from its leaves).
    An empty range is a chunk only as the whole empty file."""
    if offset > total_size or size > total_size - offset:
        return False
    if size == 0:
        return total_size == 0
    return offset % LEAF_BYTES == 0 and (size % LEAF_BYTES == 0 or offset + size == total_size)


def leaf_digest(data):
    h = _hasher(PERSON_LEAF)
    h.update(data)
    return h.digest()


def chunk_digest_from_leaves(leaves):
    if not leaves:
        raise ValueError("a chunk has at least one leaf")
    h = _hasher(PERSON_CHUNK)
    for leaf in leaves:
        h.update(leaf)
    return h.digest()


def file_digest_from_leaves(leaves, size):
    if len(leaves) != leaf_count(size):
        raise ValueError(f"a file of {size} bytes has {leaf_count(size)} leaves, not {len(leaves)}")
    h = _hasher(PERSON_ROOT)
    for leaf in leaves:
        h.update(leaf)
    h.update(size.to_bytes(8, "little"))
    return h.digest()


def _read_exactly(stream, n):
    """Up to n bytes; fewer only at the end of the stream (pipes return short reads)."""
    parts, have = [], 0
    while have < n:
        part = stream.read(n - have)
        if not part:
            break
        parts.append(part)
        have += len(part)
    return b"".join(parts)


class _Source:
    """Bytes-like, a path or a binary file object, read in leaf-sized pieces from an offset."""

    def __init__(self, source):
        self._bytes = None
        self._stream = None
        self._owned = False
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._bytes = memoryview(source).cast("B")
        elif isinstance(source, (str, os.PathLike)):
            self._stream = open(source, "rb")
            self._owned = True
        else:
            self._stream = source

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._owned:
            self._stream.close()

    def size(self):
        if self._bytes is not None:
            return len(self._bytes)
        return os.fstat(self._stream.fileno()).st_size

    def pieces(self, offset, size=None, piece=LEAF_BYTES):
        """Yields the bytes of [offset, offset + size) (to the end if size is None), piece by piece."""
        if self._bytes is not None:
            end = len(self._bytes) if size is None else offset + size
            for start in range(offset, end, piece):
                yield self._bytes[start:min(end, start + piece)]
            return
        if offset:
            self._stream.seek(offset)
        remaining = size
        while remaining is None or remaining > 0:
            data = _read_exactly(self._stream, piece if remaining is None else min(piece, remaining))
            if not data:
                break
            if remaining is not None:
                remaining -= len(data)
            yield data
        if remaining:
            raise ValueError("the file ended before the chunk did")


def _leaves_and_size(src, offset=0, size=None):
    """Leaf digests of [offset, offset + size) of an open _Source (to its end if size is None) and
    the number of bytes they cover."""
    if size is not None and not is_leaf_aligned(offset, size, src.size()):
        raise ValueError(f"[{offset}, {offset + size}) is not a leaf-aligned range of a {src.size()}-byte file")
    if offset % LEAF_BYTES:
        raise ValueError(f"leaves start on a multiple of {LEAF_BYTES} bytes, not at {offset}")
    leaves, seen = [], 0
    for piece in src.pieces(offset, size):
        leaves.append(leaf_digest(piece))
        seen += len(piece)
    if seen == 0 and offset == 0:
        leaves.append(leaf_digest(b""))  # the empty file's one empty leaf
    return leaves, seen


def leaf_digests(source, offset=0, size=None):
    """The 32-byte leaf digests of the source, or of its leaf-aligned range [offset, offset + size)."""
    with _Source(source) as src:
        return _leaves_and_size(src, offset, size)[0]


def chunk_digest(source, offset, size):
    """The digest of the chunk [offset, offset + size) of the file `source` (bytes or a path): from
    its leaves when it is leaf-aligned, otherwise the personalized BLAKE2b-256 of its bytes."""
    with _Source(source) as src:
        total = src.size()
        if offset > total or size > total - offset or (size == 0 and total != 0):
            raise ValueError(f"[{offset}, {offset + size}) is not a chunk of a {total}-byte file")
        if is_leaf_aligned(offset, size, total):
            return chunk_digest_from_leaves(_leaves_and_size(src, offset, size)[0])
        h = _hasher(PERSON_BYTES)
        for piece in src.pieces(offset, size):
            h.update(piece)
        return h.digest()


def file_digest(source):
    """The file digest (root): from all leaf digests and the size; one pass over the bytes."""
    with _Source(source) as src:
        leaves, size = _leaves_and_size(src)
    return file_digest_from_leaves(leaves, size)


# ---- b2sum-style lines ---------------------------------------------------------------------------

def _escape(name):
    """coreutils' convention: a name with a backslash or newline is escaped and the line starts with '\\'."""
    if "\\" not in name and "\n" not in name:
        return "", name
    return "\\", name.replace("\\", "\\\\").replace("\n", "\\n")


def _unescape(name):
    out, i = [], 0
    while i < len(name):
        c = name[i]
        if c == "\\":
            if i + 1 >= len(name) or name[i + 1] not in "\\n":
                return None
            out.append("\n" if name[i + 1] == "n" else "\\")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse_check_line(line):
    """(hex, name) from "<64 hex>  <name>" or "<64 hex> *<name>"; None if malformed."""
    escaped = line.startswith("\\")
    if escaped:
        line = line[1:]
    digest, sep, name = line[:64], line[64:66], line[66:]
    if len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
        return None
    if sep not in ("  ", " *") or not name or "\0" in name:  # no file has a NUL in its name
        return None
    if escaped:
        name = _unescape(name)
        if name is None:
            return None
    return digest.lower(), name


PROG = "resumable_digest.py"


def _error(message):
    print(f"{PROG}: {message}", file=sys.stderr)


def _digest_of(name):
    if name == "-":
        return file_digest(sys.stdin.buffer)
    return file_digest(name)


def _os_error_text(error):
    return error.strerror or str(error)


def print_digests(names):
    status = 0
    for name in names:
        try:
            digest = _digest_of(name)
        except OSError as error:
            _error(f"{name}: {_os_error_text(error)}")
            status = 1
            continue
        prefix, shown = _escape(name)
        sys.stdout.write(f"{prefix}{digest.hex()}  {shown}\n")
    return status


def check_lists(lists):
    status = 0
    for list_name in lists:
        try:
            if list_name == "-":
                text = sys.stdin.buffer.read()
            else:
                with open(list_name, "rb") as f:
                    text = f.read()
        except OSError as error:
            _error(f"{list_name}: {_os_error_text(error)}")
            status = 1
            continue
        mismatched = unreadable = malformed = checked = 0
        lines = text.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        for number, raw in enumerate(lines, 1):
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw or raw.startswith(b"#"):  # b2sum skips empty and comment lines
                continue
            parsed = parse_check_line(raw.decode("utf-8", "surrogateescape"))
            if parsed is None:
                _error(f"{list_name}: {number}: improperly formatted line")
                malformed += 1
                continue
            expected, name = parsed
            prefix, shown = _escape(name)
            checked += 1
            try:
                actual = _digest_of(name).hex()
            except OSError as error:
                _error(f"{name}: {_os_error_text(error)}")
                print(f"{prefix}{shown}: FAILED open or read")
                unreadable += 1
                continue
            if actual == expected:
                print(f"{prefix}{shown}: OK")
            else:
                print(f"{prefix}{shown}: FAILED")
                mismatched += 1
        if checked == 0:
            _error(f"{list_name}: no properly formatted digest lines found")
        for count, one, many in ((malformed, "line is improperly formatted", "lines are improperly formatted"),
                                 (unreadable, "listed file could not be read", "listed files could not be read"),
                                 (mismatched, "computed digest did NOT match", "computed digests did NOT match")):
            if count:
                _error(f"WARNING: {count} {one if count == 1 else many}")
        if mismatched or unreadable or malformed or checked == 0:
            status = 1
    return status


# ---- golden vectors ------------------------------------------------------------------------------

VECTOR_SIZES = [0, 1, LEAF_BYTES - 1, LEAF_BYTES, LEAF_BYTES + 1, 3 * LEAF_BYTES + 12345, 8 * LEAF_BYTES + 7]
VECTOR_CHUNK_SIZES = [LEAF_BYTES, 4 * LEAF_BYTES, 1_000_000]


def test_bytes(length, seed):
    """The deterministic bytes of tests/vectors/testdata.mjs and tests/unit/test_data.h:
    xorshift32, four bytes per step, little-endian."""
    x = (seed & 0xFFFFFFFF) or 1
    words = array.array("I", bytes(4 * ((length + 3) // 4)))
    if words.itemsize != 4:
        raise RuntimeError("array('I') is not 32-bit here")
    for i in range(len(words)):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        words[i] = x
    if sys.byteorder == "big":
        words.byteswap()
    return words.tobytes()[:length]


def _chunk_count(total, chunk, force):
    """resumable.js/flow.js: the last chunk absorbs the remainder, or (forceChunkSize) is short."""
    n = total // chunk
    if force and total % chunk:
        n += 1
    return max(1, n)


def golden_vectors():
    files = []
    for size in VECTOR_SIZES:
        seed = (0x9E3779B9 ^ size) & 0xFFFFFFFF  # the seed rule of tests/vectors/generate.mjs
        data = test_bytes(size, seed)
        chunkings = []
        for chunk_size in VECTOR_CHUNK_SIZES:
            for mode, force in (("last_absorbs_remainder", False), ("force_chunk_size", True)):
                count = _chunk_count(size, chunk_size, force)
                chunks = []
                for number in range(1, count + 1):
                    offset = (number - 1) * chunk_size
                    length = chunk_size if number < count else size - offset
                    chunks.append({"number": number, "offset": offset, "size": length,
                                   "leaf_aligned": is_leaf_aligned(offset, length, size),
                                   "digest": chunk_digest(data, offset, length).hex()})
                chunkings.append({"chunk_size": chunk_size, "mode": mode, "chunks": chunks})
        files.append({"size": size, "seed": seed,
                      "leaves": [leaf.hex() for leaf in leaf_digests(data)],
                      "file_digest": file_digest(data).hex(),
                      "chunkings": chunkings})
    return {
        "about": "Golden vectors of the tree digest (docs/digest.md), from the Python reference over the "
                 "bytes of tests/vectors/testdata.mjs. Regenerate: python3 tools/resumable_digest.py --vectors "
                 "> tests/vectors/tree_vectors.json",
        "leaf_bytes": LEAF_BYTES,
        "personal": {"leaf": PERSON_LEAF.decode(), "chunk": PERSON_CHUNK.decode(),
                     "root": PERSON_ROOT.decode(), "bytes": PERSON_BYTES.decode()},
        "files": files,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Print or check resumable tree digests (docs/digest.md), like b2sum.")
    parser.add_argument("files", nargs="*", metavar="FILE", help='files ("-" is standard input)')
    parser.add_argument("-c", "--check", action="store_true", help="read digests from the FILEs and check them")
    parser.add_argument("--vectors", action="store_true", help="print the golden vectors as JSON")
    args = parser.parse_args(argv)
    # Names are bytes on POSIX: print undecodable ones back as they came (like b2sum).
    sys.stdout.reconfigure(errors="surrogateescape")
    sys.stderr.reconfigure(errors="surrogateescape")
    if args.vectors:
        if args.files or args.check:
            parser.error("--vectors takes no other argument")
        sys.stdout.write(json.dumps(golden_vectors(), indent=2) + "\n")
        return 0
    names = args.files or ["-"]
    return check_lists(names) if args.check else print_digests(names)


if __name__ == "__main__":
    sys.exit(main())
