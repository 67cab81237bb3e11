/* herd chat: options and the conversation state (chat_session.c). */
#ifndef HERD_CLI_CHAT_H
#define HERD_CLI_CHAT_H
#include <signal.h>
#include "cli/cli.h"

typedef struct {
    const char *model, *tokenizer, *system;
    herd_chat_template tpl;    /* HERD_CHAT_NONE: from the model */
    int n_predict, n_ctx, threads, verbose, seed_given;
    herd_sampler_params sp;
} chat_opts;

typedef struct chat_session chat_session;

herd_status chat_session_new(const chat_opts *o, herd_model *m, const herd_tokenizer *tok,
                             chat_session **out);
void chat_session_free(chat_session *cs);
/* Forgets the conversation but the system prompt. */
void chat_session_clear(chat_session *cs);
/* One turn: the user's message in, the reply streamed to stdout; stops early
 * when *stop becomes non-zero. */
herd_status chat_turn(chat_session *cs, const char *user, volatile sig_atomic_t *stop);

#endif
