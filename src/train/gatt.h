/* Ghost Attention (GAtt) data, Llama 2 paper section 3.3.
 *
 * A dialogue [u1, a1, ..., un, an] and an instruction inst that should hold
 * all through it ("Always answer as Napoleon", "Answer in French") give two
 * views:
 *   prompts  the SAMPLING view: inst joined to EVERY user message, so that a
 *            policy generating each assistant turn from the messages before
 *            it sees the instruction at every turn. Every message is kept
 *            (the assistant messages are there to be replaced by the
 *            sampled ones; a last user message waits for its answer).
 *   train    the TRAINING view: inst only at the start, as the system
 *            prompt (Llama 2's choice: joined before the text of a first
 *            system message, else a new system message first) or, with
 *            in_user, joined to the first user message only; every
 *            assistant message but the last carries "train": false, so
 *            only the last answer is trained (train/sft.h). Messages after
 *            the last assistant message are left out.
 * Joining: inst + "\n\n" + text (inst alone when the text is empty). A
 * message that gets inst, and every user message, that already starts with
 * inst + "\n\n" (or is inst) has it taken off first, so the prompts view
 * with its sampled answers filled in is valid input for the train view
 * (giving what the raw dialogue gives), and both views are idempotent.
 * Input "train" flags are ignored: the view sets its own.
 *
 * Files: JSONL in and out. An input line is a chat as SFT reads it
 * ({"messages": [{"role", "content"}]} or ShareGPT {"conversations":
 * [{"from", "value"}]}), with an optional string "instruction". The
 * instruction of a line is its own "instruction", else opts.instruction,
 * else drawn from opts.pool: `combine` different entries, in draw order,
 * joined by a space, drawn by a generator seeded with (seed, line number),
 * so a line's draw depends on nothing else in the file. An output line is
 * {"messages": [...], "instruction": inst, the input's other keys}, roles
 * "system" / "user" / "assistant". */
#ifndef HERD_TRAIN_GATT_H
#define HERD_TRAIN_GATT_H
#include <stdint.h>
#include <stdio.h>
#include "herd.h"

typedef enum { HERD_GATT_PROMPTS = 1, HERD_GATT_TRAIN = 2 } herd_gatt_view;

#define HERD_GATT_MAX_COMBINE 8

typedef struct {
    herd_gatt_view view;
    int in_user;               /* train view: inst on the first user message, not the system */
    const char *instruction;   /* for every line without its own; NULL: from the pool */
    char *const *pool;         /* instructions to draw from (n_pool of them) */
    int n_pool;
    int combine;               /* drawn per line, 1 .. HERD_GATT_MAX_COMBINE (0: 1) */
    uint64_t seed;
} herd_gatt_opts;

/* One dialogue in a view. It owns its contents; roles are static. */
typedef struct {
    herd_chat_msg *msgs;
    uint8_t *train;            /* per message: 0 on an assistant message not trained */
    int n;
} herd_gatt_dialog;

/* in (n messages, roles system/user/assistant) in view v with instruction
 * inst into out. HERD_E_ARG for an empty instruction, an unknown role, no
 * user message, or (train view) no assistant message after a user one. */
herd_status herd_gatt_build(herd_gatt_view v, int in_user, const char *inst,
                            const herd_chat_msg *in, int n, herd_gatt_dialog *out);
void herd_gatt_dialog_free(herd_gatt_dialog *d);

/* The pool indexes drawn for line lineno (k different ones into idx). */
void herd_gatt_draw(uint64_t seed, int64_t lineno, int n_pool, int k, int *idx);

/* The instructions of a file, one per line (a UTF-8 byte order mark,
 * whitespace at both ends and blank lines dropped). HERD_E_FORMAT when it
 * holds none or a NUL byte. */
herd_status herd_gatt_read_pool(const char *path, char ***pool, int *n);
void herd_gatt_pool_free(char **pool, int n);

typedef struct {
    int64_t lines;     /* non-blank lines read */
    int64_t written;   /* dialogues written */
    int64_t drawn;     /* of them, with an instruction drawn from the pool */
} herd_gatt_stats;

/* Reads in_path, writes the view of every line to out. A bad line (not a
 * JSON object, no chat, a message without string role and content, an
 * unknown role, no instruction, a dialogue the view cannot take) stops it
 * with HERD_E_FORMAT "path:line: why". st may be NULL. */
herd_status herd_gatt_file(const char *in_path, FILE *out, const herd_gatt_opts *o,
                           herd_gatt_stats *st);

#endif
