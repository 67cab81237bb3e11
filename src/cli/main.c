#include "cli/cli.h"
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *what;
} commands[] = {
    {"run", cli_run, "generate text from a prompt"},
    {"chat", cli_chat, "talk with a chat model in the terminal"},
    {"serve", cli_serve, "serve a model over HTTP with an OpenAI-compatible API"},
    {"info", cli_info, "print a model's or a preset's architecture and parameter count"},
    {"bench", cli_bench, "measure prompt and generation speed in tokens/s"},
    {"tokenize", cli_tokenize, "print the token ids (or pieces) of a text"},
    {"detokenize", cli_detokenize, "turn token ids back into text"},
    {"perplexity", cli_perplexity, "measure a model's perplexity on a text, as llama-perplexity"},
    {"convert", cli_convert, "write a model as GGUF or as a Hugging Face folder"},
    {"quantize", cli_quantize, "quantize a GGUF model (Q8_0, Q4_0, Q4_K_M, Q6_K), as llama-quantize"},
    {"train-tokenizer", cli_train_tokenizer, "learn a SentencePiece BPE tokenizer.model from text"},
    {"extend-vocab", cli_extend_vocab, "append pieces to a SentencePiece tokenizer and grow the model to match"},
    {"prepare", cli_prepare, "tokenize text or JSONL into train/validation shards for pretraining"},
    {"train", cli_train, "pretrain a Llama on token shards from a JSON config"},
    {"finetune", cli_finetune, "finetune a model (full, LoRA or QLoRA) on SFT examples"},
    {"merge", cli_merge, "fold LoRA adapters into a model and write it"},
    {"reward-train", cli_reward_train, "train a reward model on preference pairs (chosen/rejected)"},
    {"reward-score", cli_reward_score, "score responses or preference pairs with a reward model"},
    {"rejection-sample", cli_rejection_sample, "best of K responses per prompt by a reward model, as SFT data"},
    {"dpo", cli_dpo, "align a model to preference pairs with DPO (full or LoRA)"},
    {"ppo", cli_ppo, "align a model to a reward model with PPO (policy, reference, value head)"},
    {"gatt", cli_gatt, "Ghost Attention data: multi-turn chats with an instruction for the whole dialogue"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: herd COMMAND [options]   (herd COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].what);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "herd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
