#!/usr/bin/python3
"""The committed golden data (tests/fixtures/spm_llama2.txt) is what
python3-sentencepiece gives today: regenerate it into a temp file and
compare. Exit 77 (skipped) without sentencepiece or the shared tokenizer."""
import os
import subprocess
import sys
import tempfile

SOURCE = os.environ.get("HERD_SOURCE", os.path.join(os.path.dirname(__file__), "../.."))
SHARED = os.environ.get("HERD_SHARED", os.path.join(SOURCE, "../shared"))
MODEL = os.path.join(SHARED, "tokenizers/llama2/tokenizer.model")
FIXTURE = os.path.join(SOURCE, "tests/fixtures/spm_llama2.txt")
SCRIPT = os.path.join(SOURCE, "tests/reference/spm_golden.py")


def data_lines(path):
    with open(path, encoding="ascii") as f:
        return [l.rstrip("\n") for l in f if not l.startswith("#")]


def main():
    try:
        import sentencepiece  # noqa: F401
    except ImportError:
        print("SKIP: python3-sentencepiece is not installed")
        return 77
    if not os.path.exists(MODEL):
        print("SKIP: %s is absent (set HERD_SHARED)" % MODEL)
        return 77
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "spm_llama2.txt")
        subprocess.run([sys.executable, SCRIPT, "--model", MODEL, "--out", out], check=True)
        fresh, committed = data_lines(out), data_lines(FIXTURE)
    if fresh == committed:
        print("%s: %d lines match sentencepiece" % (FIXTURE, len(fresh)))
        return 0
    for i, (a, b) in enumerate(zip(fresh, committed)):
        if a != b:
            print("line %d differs:\n  sentencepiece: %s\n  fixture:       %s" % (i, a[:200], b[:200]))
            break
    else:
        print("lengths differ: sentencepiece %d lines, fixture %d" % (len(fresh), len(committed)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
