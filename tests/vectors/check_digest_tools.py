#!/usr/bin/env python3
"""The tree digest's two command-line tools against each other and the committed vectors.

    check_digest_tools.py vectors            tools/resumable_digest.py --vectors regenerates
                                             tests/vectors/tree_vectors.json exactly
    check_digest_tools.py tools NATIVE_BIN   resumable-digest (NATIVE_BIN) and the Python reference
                                             print the same digests (those of the vectors) and agree
                                             on --check: passing lists pass, wrong ones fail
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REFERENCE = os.path.join(ROOT, "tools", "resumable_digest.py")
VECTORS = os.path.join(HERE, "tree_vectors.json")
sys.path.insert(0, os.path.dirname(REFERENCE))
sys.dont_write_bytecode = True
import resumable_digest  # noqa: E402  (the reference, for its byte generator)

NATIVE = None  # set from the command line


def run(tool, args, stdin=b""):
    command = [NATIVE] if tool == "native" else [sys.executable, REFERENCE]
    return subprocess.run(command + args, input=stdin, capture_output=True)


class ReferenceRegeneratesTheVectors(unittest.TestCase):
    def test_committed_vectors_equal_what_the_reference_gives_now(self):
        result = run("python", ["--vectors"])
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        with open(VECTORS, "rb") as f:
            committed = f.read()
        self.assertTrue(result.stdout == committed,
                        "tests/vectors/tree_vectors.json differs from `tools/resumable_digest.py --vectors`")


class ToolsAgree(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory(prefix="resumable-digest-tools-")
        self.addCleanup(self.dir.cleanup)
        self.expected = {}
        names = ["empty", "one byte", "one leaf", "leaf+1", "back\\slash"]
        files = {f["size"]: f for f in json.load(open(VECTORS))["files"]}
        for name, size in zip(names, [0, 1, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 12345]):
            data = resumable_digest.test_bytes(size, files[size]["seed"])
            with open(self.path(name), "wb") as f:
                f.write(data)
            self.expected[name] = files[size]["file_digest"]
        self.names = names

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def both(self, args, stdin=b""):
        """Runs both tools; asserts the same exit status, stdout and (but for the program's name) stderr."""
        native, python = run("native", args, stdin), run("python", args, stdin)
        self.assertEqual(native.stdout.decode(), python.stdout.decode(), args)
        self.assertEqual(native.stderr.decode().replace("resumable-digest:", "PROG:"),
                         python.stderr.decode().replace("resumable_digest.py:", "PROG:"), args)
        self.assertEqual(native.returncode, python.returncode, args)
        return native

    def write_list(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def test_both_print_the_vectors_file_digests_like_b2sum(self):
        result = self.both([self.path(n) for n in self.names])
        self.assertEqual(result.returncode, 0)
        lines = result.stdout.decode().splitlines()
        for name, line in zip(self.names, lines):
            escaped = "\\" in name
            self.assertEqual(line, ("\\" if escaped else "") + f"{self.expected[name]}  "
                             + self.path(name).replace("\\", "\\\\"))

    def test_standard_input_is_dash(self):
        with open(self.path("leaf+1"), "rb") as f:
            data = f.read()
        for args in ([], ["-"]):
            result = self.both(args, stdin=data)
            self.assertEqual(result.stdout.decode(), f"{self.expected['leaf+1']}  -\n")

    def test_a_list_from_either_tool_checks_with_both(self):
        listing = run("native", [self.path(n) for n in self.names]).stdout.decode()
        for list_text in (listing, run("python", [self.path(n) for n in self.names]).stdout.decode()):
            result = self.both(["--check", self.write_list("list", list_text)])
            self.assertEqual(result.returncode, 0, result.stderr.decode())
            self.assertEqual(result.stdout.decode().count(": OK\n"), len(self.names))

    def flip_first_byte(self, name):
        with open(self.path(name), "r+b") as f:
            first = f.read(1)[0]
            f.seek(0)
            f.write(bytes([first ^ 1]))

    def test_check_fails_on_a_changed_file_a_missing_file_and_a_malformed_line(self):
        cases = {
            "changed": lambda: self.flip_first_byte("one leaf"),
            "missing": lambda: os.remove(self.path("one byte")),
            "malformed": lambda: None,
        }
        for case, damage in cases.items():
            with self.subTest(case=case):
                self.setUp()  # fresh files for each case
                listing = run("python", [self.path(n) for n in self.names]).stdout.decode()
                damage()
                text = listing + ("not a digest line\n" if case == "malformed" else "")
                result = self.both(["--check", self.write_list("list", text)])
                self.assertEqual(result.returncode, 1)
                out, err = result.stdout.decode(), result.stderr.decode()
                if case == "changed":
                    self.assertIn(f"{self.path('one leaf')}: FAILED\n", out)
                    self.assertIn("WARNING: 1 computed digest did NOT match", err)
                if case == "missing":
                    self.assertIn(f"{self.path('one byte')}: FAILED open or read\n", out)
                    self.assertIn("WARNING: 1 listed file could not be read", err)
                if case == "malformed":
                    self.assertIn("WARNING: 1 line is improperly formatted", err)
                    self.assertEqual(out.count(": OK\n"), len(self.names))

    def test_a_digest_of_another_kind_fails(self):
        # b2sum's plain BLAKE2b-256 is not the tree digest: a b2sum list must not pass.
        data = open(self.path("one byte"), "rb").read()
        plain = hashlib.blake2b(data, digest_size=32).hexdigest()
        result = self.both(["--check", self.write_list("list", f"{plain}  {self.path('one byte')}\n")])
        self.assertEqual(result.returncode, 1)

    def test_lists_without_digest_lines_and_unknown_options_fail(self):
        self.assertEqual(self.both(["--check", self.write_list("list", "# only a comment\n\n")]).returncode, 1)
        self.assertEqual(run("native", ["--no-such-option"]).returncode, 2)
        self.assertEqual(run("python", ["--no-such-option"]).returncode, 2)


def main():
    global NATIVE
    if len(sys.argv) >= 2 and sys.argv[1] == "vectors":
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(ReferenceRegeneratesTheVectors)
    elif len(sys.argv) == 3 and sys.argv[1] == "tools":
        NATIVE = os.path.abspath(sys.argv[2])
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(ToolsAgree)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
