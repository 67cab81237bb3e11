/* herd: the LLaMA model family in C. Public API.
 *
 * Errors are values: every function that can fail returns a herd_status and
 * leaves a one-line message for herd_last_error(). Nothing here exits. */
#ifndef HERD_H
#define HERD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    HERD_OK = 0,
    HERD_E_IO,          /* a file could not be opened, read, mapped or written */
    HERD_E_FORMAT,      /* a file is truncated, corrupted or not what it claims */
    HERD_E_UNSUPPORTED, /* a valid file or request herd does not handle */
    HERD_E_ARG,         /* a bad argument from the caller */
    HERD_E_RANGE,       /* a value out of range (token id, position, context) */
    HERD_E_NOMEM        /* an allocation failed */
} herd_status;

/* The message left by the last failing call on this thread ("" if none). */
const char *herd_last_error(void);
const char *herd_status_name(herd_status s);

/* Where a checkpoint stores its q/k projection rows for rotary embeddings.
 * META: Meta's original code, llama2.c and GGUF rotate adjacent pairs
 * (2i, 2i+1). HF: Hugging Face checkpoints rotate halves (i, i + head_dim/2). */
typedef enum { HERD_ROPE_META = 0, HERD_ROPE_HF = 1 } herd_rope_layout;

/* How a model stretches its rotary embeddings past the context it was
 * trained for. LINEAR: position interpolation (every frequency divided by
 * rope_factor), as used to extend Llama 2. LLAMA3: Llama 3.1's scaling, which
 * keeps wavelengths shorter than rope_orig_ctx / high_freq_factor, divides
 * those longer than rope_orig_ctx / low_freq_factor by rope_factor and blends
 * in between. */
typedef enum {
    HERD_ROPE_SCALING_NONE = 0,
    HERD_ROPE_SCALING_LINEAR = 1,
    HERD_ROPE_SCALING_LLAMA3 = 2
} herd_rope_scaling;

typedef struct {
    int dim;            /* model width */
    int hidden_dim;     /* SwiGLU inner width */
    int n_layers;
    int n_heads;
    int n_kv_heads;     /* = n_heads: MHA, < n_heads: GQA, = 1: MQA */
    int vocab_size;
    int seq_len;        /* context the model was trained for */
    float norm_eps;     /* RMSNorm epsilon */
    float rope_theta;   /* rotary base: 10000 (Llama 1/2), 500000 (Llama 3) */
    int tied_embeddings;/* output projection shares the token embedding */
    herd_rope_layout rope_layout;
    herd_rope_scaling rope_scaling;
    float rope_factor;            /* LINEAR and LLAMA3: 8 for Llama 3.1 */
    float rope_low_freq_factor;   /* LLAMA3: 1 */
    float rope_high_freq_factor;  /* LLAMA3: 4 */
    int rope_orig_ctx;            /* LLAMA3: original_max_position_embeddings, 8192 */
} herd_config;

/* ---- models ---- */

typedef struct herd_model herd_model;
typedef struct herd_tokenizer herd_tokenizer;
typedef struct herd_context herd_context;

/* Opens a model: a GGUF file, a llama2.c .bin checkpoint, or a Hugging Face
 * folder (config.json + *.safetensors). The format is detected from the
 * path and the file's magic. */
herd_status herd_model_open(const char *path, herd_model **out);
/* The same with the tokenizer file tokenizer (tokenizer.model, tokenizer.bin,
 * tokenizer.json) in place of the one the model carries; NULL: the model's.
 * Its vocabulary must be the model's. */
herd_status herd_model_open_ex(const char *path, const char *tokenizer, herd_model **out);
void herd_model_free(herd_model *m);
const herd_config *herd_model_config(const herd_model *m);
/* The tokenizer the model file carries (GGUF metadata, tokenizer.model beside
 * a Hugging Face folder), or NULL when it has none. Owned by the model. */
herd_tokenizer *herd_model_tokenizer(herd_model *m);
/* The Jinja chat template the model carries (GGUF tokenizer.chat_template,
 * tokenizer_config.json's chat_template), NULL when none. herd does not run
 * Jinja: it tells the Llama 2 and Llama 3 formats apart by it. */
const char *herd_model_chat_template(const herd_model *m);
/* Applies a LoRA adapter at inference without merging it: a PEFT folder
 * (adapter_config.json + adapter_model.safetensors) or a GGUF LoRA file
 * (llama.cpp's --lora format). Each adapted product becomes
 * W x + scale * alpha/r * B (A x); scale 1 is the adapter as trained.
 * Several may be added. An adapter made for another model is refused. */
herd_status herd_model_add_lora(herd_model *m, const char *path, float scale);
/* Folds the added adapters into the weights (each adapted matrix widened to
 * float32) and drops them: the model then computes the same without them. */
herd_status herd_model_merge_lora(herd_model *m);
/* Number of parameters of a config (embedding and output counted once when
 * tied). */
int64_t herd_config_n_params(const herd_config *c);

/* ---- evaluation ----
 * A context holds the KV cache for up to n_ctx positions and the scratch
 * buffers of the forward pass. */
herd_status herd_context_new(const herd_model *m, int n_ctx, herd_context **out);
void herd_context_free(herd_context *ctx);
int herd_context_n_ctx(const herd_context *ctx);

/* Runs n tokens through the model in one batched pass. Token i sits at
 * position pos[i] (pos may be NULL: positions continue from the last call);
 * its keys and values are written to the cache at that position and it
 * attends to cache positions 0..pos[i]. Logits: NULL, or room for
 * n * vocab_size floats (all_logits != 0) or vocab_size floats (logits of the
 * last token only). */
herd_status herd_eval(herd_context *ctx, const int *tokens, const int *pos,
                      int n, float *logits, int all_logits);
/* Forgets the cache: the next herd_eval with pos NULL starts at position 0. */
void herd_context_reset(herd_context *ctx);
/* The next position herd_eval with pos NULL will use. */
int herd_context_pos(const herd_context *ctx);

/* Logits for every position of a sequence, computed without a KV cache
 * (each position recomputes attention over the whole prefix). */
herd_status herd_forward_nocache(const herd_model *m, const int *tokens, int n,
                                 float *logits /* n * vocab_size */);

/* Threads used by the kernels (OpenMP and BLAS). */
void herd_set_threads(int n);
/* Model weights opened from now on: mapped from the file (1, the default:
 * nothing copied, pages shared with the page cache and other processes), or
 * read into the process's own memory (0, llama.cpp's --no-mmap: a slower
 * load and twice the memory while the file is cached, for machines where
 * the page cache reads slower than fresh anonymous memory). */
void herd_set_mmap(int on);

/* ---- tokenizer ---- */

/* The two tokenizers of the Llama family. */
typedef enum {
    HERD_TOK_SPM = 1,      /* SentencePiece BPE (Llama 1/2) */
    HERD_TOK_BYTE_BPE = 2  /* tiktoken-style byte-level BPE (Llama 3) */
} herd_tok_kind;

/* Opens a tokenizer file, told apart by its first bytes: a SentencePiece
 * tokenizer.model (protobuf), a llama2.c tokenizer.bin, Meta's Llama 3
 * tokenizer.model (lines "base64 rank"; the 256 special tokens of Meta's
 * llama3 tokenizer.py get ids from 128000) or a Hugging Face tokenizer.json
 * (byte-level BPE with the Llama 3 pre-tokenizer). */
herd_status herd_tokenizer_open(const char *path, herd_tokenizer **out);
void herd_tokenizer_free(herd_tokenizer *t);
herd_tok_kind herd_tokenizer_kind(const herd_tokenizer *t); /* 0 for NULL */
int herd_tokenizer_n_vocab(const herd_tokenizer *t);
int herd_tokenizer_bos(const herd_tokenizer *t);
int herd_tokenizer_eos(const herd_tokenizer *t);
/* Encodes len bytes of text. Writes at most max ids, returns the number in
 * *n_out (when *n_out > max the ids did not fit: call again with more room).
 * add_bos/add_eos put BOS/EOS around the text. Special tokens written in the
 * text are plain text: herd_tokenize_ex with HERD_TOKENIZE_SPECIAL parses
 * them. */
herd_status herd_tokenize(const herd_tokenizer *t, const char *text, size_t len,
                          int add_bos, int add_eos, int *ids, int max, int *n_out);

/* Flags of herd_tokenize_ex. */
enum {
    HERD_TOKENIZE_BOS = 1,     /* BOS first */
    HERD_TOKENIZE_EOS = 2,     /* EOS last */
    /* Special tokens written in the text ("<|eot_id|>") become their ids
     * (longest match first); without it they are encoded as plain text.
     * Byte BPE only: SentencePiece never parses its control pieces from
     * text, so this flag changes nothing there. */
    HERD_TOKENIZE_SPECIAL = 4
};
/* herd_tokenize with flags.
 * Byte BPE and invalid UTF-8: the pre-tokenizer runs on each longest
 * stretch of valid UTF-8 as if it were the whole text, and every byte that
 * is not part of a well-formed character becomes the token of that single
 * byte, so nothing is lost and decoding gives the exact bytes back. */
herd_status herd_tokenize_ex(const herd_tokenizer *t, const char *text, size_t len,
                             unsigned flags, int *ids, int max, int *n_out);
/* The bytes of one token as they appear in decoded text, given the previous
 * token (SentencePiece drops the leading space after BOS). Byte-fallback
 * tokens give their single byte; byte BPE tokens give their bytes, special
 * tokens their text ("<|eot_id|>"). Writes into buf (at least 256 bytes) and
 * returns the length, or -1 for an id out of range. */
int herd_token_to_bytes(const herd_tokenizer *t, int prev, int id, char *buf);
/* The raw piece of a token ("<0x0A>", "▁the"; byte BPE: the token's bytes,
 * which may hold a NUL), NULL when out of range. */
const char *herd_token_piece(const herd_tokenizer *t, int id);
/* The id of the token whose raw piece is exactly piece (the inverse of
 * herd_token_piece: "<|eot_id|>", "</s>", "▁the"), -1 when none. */
int herd_token_id(const herd_tokenizer *t, const char *piece);

/* ---- chat templates ----
 * A conversation as the ids a chat model was trained on: Llama 2's
 * [INST]/<<SYS>> format and Llama 3's header tokens, built as Meta's
 * reference code builds them. */

typedef enum {
    HERD_CHAT_NONE = 0,
    HERD_CHAT_LLAMA2 = 1,   /* [INST] ... [/INST], <<SYS>>, BOS/EOS per turn */
    HERD_CHAT_LLAMA3 = 2    /* <|start_header_id|>role<|end_header_id|>, <|eot_id|> */
} herd_chat_template;

typedef struct {
    const char *role;      /* "system", "user" or "assistant" */
    const char *content;
} herd_chat_msg;

enum {
    /* The messages continue a conversation already evaluated: no
     * <|begin_of_text|> (Llama 2 starts every turn with BOS anyway). */
    HERD_CHAT_CONTINUE = 1,
    /* End with the assistant's header open for the reply (Llama 3; in Llama
     * 2 a last user message is always left open). */
    HERD_CHAT_OPEN = 2
};

/* Renders n messages as ids; *n_out may exceed max (then call again with
 * more room). */
herd_status herd_chat_render(const herd_tokenizer *t, herd_chat_template tpl,
                             const herd_chat_msg *msgs, int n, unsigned flags, int *ids,
                             int max, int *n_out);
/* "llama2" / "llama3" to a template; HERD_E_ARG for another name. */
herd_status herd_chat_template_parse(const char *name, herd_chat_template *out);
const char *herd_chat_template_name(herd_chat_template tpl);
/* The template a Jinja chat_template string (GGUF tokenizer.chat_template,
 * tokenizer_config.json) is written for, else the one the tokenizer implies
 * (<|start_header_id|> in its vocabulary: Llama 3; else Llama 2). jinja may
 * be NULL. */
herd_chat_template herd_chat_template_detect(const char *jinja, const herd_tokenizer *t);
/* Whether id ends an assistant turn: EOS, and <|eot_id|> for Llama 3. */
int herd_chat_is_end(const herd_tokenizer *t, herd_chat_template tpl, int id);
/* The id that closes an assistant turn cut short (by -n or Ctrl-C). */
int herd_chat_end_token(const herd_tokenizer *t, herd_chat_template tpl);

/* ---- presets: every published Llama size ---- */

/* The config of a published model ("llama2-7b", "llama3.1-8b", ...), NULL
 * for an unknown name. */
const herd_config *herd_preset(const char *name);
int herd_preset_count(void);
const char *herd_preset_name(int i);

/* ---- sampling ----
 * Applied in llama.cpp's order: repetition penalty, top-k, top-p, min-p,
 * temperature, then a draw. temp <= 0 is greedy (argmax, lowest id on ties). */
typedef struct {
    float temp;            /* 0.8; <= 0: greedy */
    int top_k;             /* 40; <= 0: off */
    float top_p;           /* 0.95; >= 1: off */
    float min_p;           /* 0.05; <= 0: off */
    float repeat_penalty;  /* 1.0: off */
    int repeat_last_n;     /* 64: how many past tokens the penalty sees */
    uint64_t seed;         /* same seed, same draws */
} herd_sampler_params;

typedef struct herd_sampler herd_sampler;
herd_sampler_params herd_sampler_defaults(void);
herd_status herd_sampler_new(const herd_sampler_params *p, int n_vocab,
                             herd_sampler **out);
void herd_sampler_free(herd_sampler *s);
/* Picks the next token from n_vocab logits (the array is used as scratch
 * and changed). */
int herd_sampler_sample(herd_sampler *s, float *logits);
/* Records a token (prompt or generated) for the repetition penalty. */
void herd_sampler_accept(herd_sampler *s, int id);

/* ---- generation ---- */

typedef struct {
    int n_prompt, n_gen;
    double prompt_s, gen_s;   /* wall seconds of prompt processing, generation */
} herd_gen_stats;

/* Called with each generated token; return non-zero to stop. */
typedef int (*herd_token_fn)(void *user, int id);

/* Processes the prompt in one batched pass from the context's current
 * position, then samples up to n_predict tokens one step at a time, stopping
 * early at eos (-1: never), when on_token returns non-zero, or when the
 * context is full. A prompt that does not fit the context is an error. */
herd_status herd_generate(herd_context *ctx, herd_sampler *smp, const int *prompt,
                          int n_prompt, int n_predict, int eos,
                          herd_token_fn on_token, void *user, herd_gen_stats *st);

/* ---- perplexity ----
 * As llama.cpp's llama-perplexity measures it: the tokens are cut into
 * non-overlapping chunks of n_ctx (a remainder shorter than n_ctx is left
 * out); each chunk is evaluated from an empty cache with its first token
 * replaced by BOS, and only its second half is scored: the logits at
 * positions n_ctx/2 .. n_ctx-2 against the next token, n_ctx - n_ctx/2 - 1
 * tokens per chunk. Each score is -log softmax(logits)[next], in double. */

typedef struct {
    int n_ctx;     /* tokens per chunk; 0: the context's size */
    int n_batch;   /* most tokens per herd_eval call; 0: n_ctx */
    int n_chunks;  /* at most this many chunks; 0: all that fit */
    int bos;       /* put in place of each chunk's first token; -1: keep it */
} herd_ppl_params;

typedef struct {
    int chunk;      /* chunks done */
    int n_chunks;   /* chunks to do */
    int64_t count;  /* tokens scored */
    double nll;     /* sum of -log p(next token) over them */
    double nll2;    /* sum of its squares */
    double seconds; /* wall time so far */
} herd_ppl_stats;

/* Called after each chunk; return non-zero to stop there. */
typedef int (*herd_ppl_fn)(void *user, const herd_ppl_stats *st);

/* Scores n tokens in the context ctx (whose cache it clears; its size must
 * hold n_ctx). Fewer than 2 * n_ctx tokens is an error, as in llama.cpp,
 * and so are n_ctx < 3 and token ids outside the vocabulary. st (may be
 * NULL) gets the sums, also when on_chunk stopped early. */
herd_status herd_perplexity(herd_context *ctx, const int *tokens, int n,
                            const herd_ppl_params *p, herd_ppl_fn on_chunk, void *user,
                            herd_ppl_stats *st);
/* exp(nll / count), and in *err (may be NULL) llama.cpp's uncertainty:
 * ppl * sqrt((mean(nll^2) - mean(nll)^2) / (count - 1)); 0 when it cannot
 * be computed (count < 2 or no spread). */
double herd_ppl_estimate(const herd_ppl_stats *st, double *err);

#ifdef __cplusplus
}
#endif
#endif
