#!/usr/bin/python3
"""Golden data for herd's SentencePiece BPE: Llama 2's tokenizer.model run
through the reference, python3-sentencepiece (Debian's package).

    /usr/bin/python3 tests/reference/spm_golden.py [--model M] [--out F]

Writes, per case, three lines (the text and its decoding as UTF-8 hex, so
that any byte survives):
    text <hex of the text>
    ids <ids of sp.encode(text), no BOS>
    decoded <hex of sp.decode(ids)>
Lines starting with # are comments (a readable form of the text).
"""
import argparse
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(os.environ.get("HERD_SHARED", os.path.join(HERE, "../../../shared")),
                             "tokenizers/llama2/tokenizer.model")
DEFAULT_OUT = os.path.join(HERE, "../fixtures/spm_llama2.txt")

CORPUS = [
    "",
    " ",
    "  ",
    "\n",
    "Hello world",
    "Hello, world!",
    " Hello",
    "Hello ",
    "   leading and trailing spaces   ",
    "a  b   c    d     e",
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "The quick brown fox jumps over the lazy dog.\nThe end.\n",
    "line one\nline two\n\nline four\r\nwindows line\r\n",
    "\n\n\n",
    "\t\tindented with tabs\n\tand more",
    "def f(x):\n\tif x > 0:\n\t\treturn x * 2  # double\n    return -x\n",
    "int main(void) { printf(\"%d\\n\", 42); return 0; }",
    "for (int i = 0; i < n; i++) {\n        a[i] += b[i];\n    }",
    "3.14159265358979323846",
    "1234567890 9876543210 0000 1,000,000 $12.50 50% 2024-01-01",
    "12345678901234567890123456789012345678901234567890",
    "café naïve résumé façade coöperate Ångström",
    "Ça va? Où êtes-vous? ¿Qué tal? Grüß Gott! Æsir ø å",
    "e\u0301 combining acute, n\u0303 combining tilde",
    "你好，世界！今天天气很好。",
    "我爱自然语言处理和机器学习。",
    "日本語のテキストです。ひらがな、カタカナ、漢字。",
    "東京は日本の首都です",
    "한국어 텍스트입니다",
    "Привет, мир! Как дела?",
    "Γειά σου Κόσμε",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "😀😃😄 emoji 🎉",
    "👨‍👩‍👧‍👦 family ZWJ sequence",
    "👩🏽‍💻 technologist with skin tone, 🏳️‍🌈 flag",
    "🇫🇷🇯🇵 regional indicators",
    "∀x∈ℝ: x² ≥ 0 ⇒ √(x²) = |x|",
    "€£¥₹ currency ©®™",
    "𠀀𠀁 CJK extension B (byte fallback)",
    "\ue000\uf8ff private use",
    "\ufeffBOM at start",
    "\u2581 literal U+2581 in the text",
    "a\u2581b\u2581\u2581c",
    "\x00 NUL and \x01 control \x7f",
    "\ufffd replacement char",
    "zero\u200bwidth\u200cjoiners\u200d",
    "tab\tseparated\tvalues\t1\t2",
    "                                        40 spaces",
    "trailing newline\n",
    "<s> and </s> and <unk> as plain text",
    "<0x41> spelled byte piece",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababababababab",
    "!!!!!!!!???????.......,,,,,,------______",
    "https://example.com/path?query=1&x=y#frag user@example.org",
    "MixedCASE camelCaseIdentifier snake_case_identifier SCREAMING_CASE",
    "I'm can't won't they'll we've she'd",
]

PARAGRAPH = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, "
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of "
    "incredulity, it was the season of Light, it was the season of Darkness, it was the "
    "spring of hope, it was the winter of despair, we had everything before us, we had "
    "nothing before us, we were all going direct to Heaven, we were all going direct the "
    "other way.\n\nIn short, the period was so far like the present period, that some of "
    "its noisiest authorities insisted on its being received, for good or for evil, in "
    "the superlative degree of comparison only.\n")

POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") +
        list("     \n\t.,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`") +
        list("éàüöñçßøåæœ") + list("你好世界中文字") + list("日本語かなカナ") +
        list("ПриветΓειά") + ["😀", "🎉", "👍🏻", "\u200d", "\u2581", "𠀀", "\u0301"] +
        ["the", " the", "ing", "tion", "  ", "\n\n", "http", "://", "▁▁"])


def random_cases(n, seed=20240601):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        out.append("".join(rng.choice(POOL) for _ in range(k)))
    return out


def cases():
    return CORPUS + [PARAGRAPH, PARAGRAPH * 3] + random_cases(300)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=a.model)
    lines = ["# herd golden data: Llama 2 tokenizer.model through python3-sentencepiece %s"
             % spm.__version__,
             "# written by tests/reference/spm_golden.py; text and decoded are UTF-8 hex"]
    for text in cases():
        ids = sp.encode(text)
        decoded = sp.decode(ids)
        lines.append("# " + ascii(text)[:100])
        lines.append("text " + text.encode("utf-8").hex())
        lines.append("ids " + " ".join(str(i) for i in ids))
        lines.append("decoded " + decoded.encode("utf-8").hex())
    with open(a.out, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print("%s: %d cases" % (a.out, len(cases())), file=sys.stderr)


if __name__ == "__main__":
    main()
