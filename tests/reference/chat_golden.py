#!/usr/bin/python3
"""Golden data for herd's Llama 2 chat template: conversations rendered as
Meta's reference code renders them (llama/generation.py, chat_completion),
encoded with python3-sentencepiece and the Llama 2 tokenizer.model.

    /usr/bin/python3 tests/reference/chat_golden.py [--model M] [--out F]

Writes tests/fixtures/chat_llama2.txt: lines starting with # are comments;
every other line is one JSON object
    {"name": ..., "messages": [{"role": ..., "content": ...}, ...], "ids": [...]}
where ids is what chat_completion feeds the model for those messages.
"""
import argparse
import json
import os

import sentencepiece

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("HERD_SHARED", os.path.join(HERE, "../../../shared"))
DEFAULT_MODEL = os.path.join(SHARED, "tokenizers/llama2/tokenizer.model")
DEFAULT_OUT = os.path.join(HERE, "../fixtures/chat_llama2.txt")

# Meta's constants (llama/generation.py).
B_INST, E_INST = "[INST]", "[/INST]"
B_SYS, E_SYS = "<<SYS>>\n", "\n<</SYS>>\n\n"


def chat_completion_tokens(sp, dialog):
    """The prompt tokens of chat_completion, as Meta's code builds them: the
    system prompt merged into the first user message, then one BOS ... EOS
    per (user, assistant) pair and BOS [INST] last [/INST] for the last user
    message. Tokenizer.encode is sp.encode with BOS (1) / EOS (2) added."""
    def encode(s, bos, eos):
        t = sp.encode(s)
        return ([sp.bos_id()] if bos else []) + t + ([sp.eos_id()] if eos else [])

    if dialog[0]["role"] == "system":
        dialog = [{"role": dialog[1]["role"],
                   "content": B_SYS + dialog[0]["content"] + E_SYS + dialog[1]["content"]}
                  ] + dialog[2:]
    assert all(m["role"] == "user" for m in dialog[::2]) and \
        all(m["role"] == "assistant" for m in dialog[1::2]), \
        "model only supports 'system', 'user' and 'assistant' roles, starting with " \
        "'system', then 'user' and alternating (u/a/u/a/u...)"
    tokens = sum([encode(f"{B_INST} {(prompt['content']).strip()} {E_INST} "
                         f"{(answer['content']).strip()} ", bos=True, eos=True)
                  for prompt, answer in zip(dialog[::2], dialog[1::2])], [])
    assert dialog[-1]["role"] == "user", f"Last message must be from user, got {dialog[-1]['role']}"
    tokens += encode(f"{B_INST} {(dialog[-1]['content']).strip()} {E_INST}", bos=True, eos=False)
    return tokens


def msg(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = [
    ("single turn", [msg("user", "Hello!")]),
    ("system prompt", [msg("system", "You are a helpful assistant."),
                       msg("user", "What is the capital of France?")]),
    ("two turns", [msg("user", "Tell me a joke."),
                   msg("assistant", "Why did the llama cross the road? To get to the other side."),
                   msg("user", "Another one, please.")]),
    ("system and three turns", [
        msg("system", "Answer in one word."),
        msg("user", "Colour of the sky?"), msg("assistant", "Blue."),
        msg("user", "Colour of grass?"), msg("assistant", "Green."),
        msg("user", "Colour of snow?")]),
    ("unicode", [msg("user", "Wie geht's? Ça va? 日本語で話せますか？ Привет 😀👍🏽"),
                 msg("assistant", "Très bien, merci ! はい、話せます。🦙"),
                 msg("user", "Ελληνικά; 한국어? עברית")]),
    ("whitespace to strip", [msg("user", "  \n  hi there \t\n"),
                             msg("assistant", "\n\n  hello!   \n"),
                             msg("user", "\t how are you?  ")]),
    # Meta strips the merged first message as a whole: the system prompt's
    # own surrounding whitespace and the user's leading whitespace stay.
    ("system prompt with whitespace", [msg("system", "  Be brief.\n "),
                                       msg("user", "   What is 2+2?  ")]),
    ("unicode whitespace to strip", [msg("user", "\u00a0\u3000hi\u2003\v\f"),
                                     msg("assistant", "\u2028ok\u0085"), msg("user", "\u00a0?")]),
    ("multi-line content", [msg("system", "Rules:\n1. be kind\n2. be brief"),
                            msg("user", "Write code:\n\ndef f(x):\n    return x * 2\n")]),
    ("control-token text is plain text", [msg("user", "<s>[INST] <<SYS>> </s> [/INST]"),
                                          msg("assistant", "</s> is just text"),
                                          msg("user", "ok <unk>")]),
    ("empty messages", [msg("user", "   "), msg("assistant", ""), msg("user", "?")]),
    ("long turn", [msg("user", "Once upon a time, " * 20),
                   msg("assistant", "there was a little llama. " * 10),
                   msg("user", "The end.")]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    sp = sentencepiece.SentencePieceProcessor(model_file=a.model)
    assert (sp.bos_id(), sp.eos_id()) == (1, 2)
    lines = [
        "# herd golden data: the Llama 2 chat format as Meta's llama/generation.py",
        "# chat_completion builds it, encoded with python3-sentencepiece "
        f"{sentencepiece.__version__}",
        "# and Llama 2's tokenizer.model; written by tests/reference/chat_golden.py.",
        "# One JSON object per line: name, messages, ids.",
    ]
    for name, dialog in CONVERSATIONS:
        ids = chat_completion_tokens(sp, dialog)
        lines.append(json.dumps({"name": name, "messages": dialog, "ids": ids},
                                ensure_ascii=False))
    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{len(CONVERSATIONS)} conversations written to {a.out}")


if __name__ == "__main__":
    main()
