/* Internals of herd serve shared by its files: the server's state, one
 * request's state, the reply helpers and the endpoints. */
#ifndef HERD_SERVE_HTTP_H
#define HERD_SERVE_HTTP_H
#include "infer/engine.h"
#include "serve/server.h"
#include "serve/text.h"
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>

#define HERD_SERVE_MAX_BODY (1u << 20)

struct herd_server {
    herd_engine *engine;
    struct MHD_Daemon *d;
    char *model_name;          /* the model file's base name */
    const char *api_key;
    int port;
    pthread_mutex_t mu;        /* guards what follows */
    pthread_cond_t idle;       /* signalled when in_flight drops */
    int in_flight;
    unsigned long long requests, tokens_in, tokens_out, seq;
};

/* A completion request, parsed. */
typedef struct {
    int chat;                  /* /v1/chat/completions */
    int stream;
    int *ids, n_ids;
    herd_engine_params ep;
    char **stop;
    int n_stop;
    char id[48];
    long created;
} herd_job;

void herd_job_free(herd_job *j);
/* Fills j from a request body; on a bad request returns 0 and sets
 * *msg / *param (static strings or a message in msgbuf). */
int herd_job_parse(herd_server *s, const cJSON *body, int chat, herd_job *j,
                   char *msgbuf, size_t cap, const char **param);

/* Replies: the JSON is consumed. */
enum MHD_Result herd_reply_json(struct MHD_Connection *c, unsigned status, cJSON *j);
enum MHD_Result herd_reply_error(struct MHD_Connection *c, unsigned status, const char *type,
                                 const char *msg, const char *param);
enum MHD_Result herd_reply_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                const char *text);

/* Endpoints. body: the parsed request (NULL for GET). */
enum MHD_Result herd_ep_complete(herd_server *s, struct MHD_Connection *c, const cJSON *body,
                                 int chat);
enum MHD_Result herd_ep_stream(herd_server *s, struct MHD_Connection *c, herd_job *j);
enum MHD_Result herd_ep_models(herd_server *s, struct MHD_Connection *c);
enum MHD_Result herd_ep_metrics(herd_server *s, struct MHD_Connection *c);
enum MHD_Result herd_ep_tokenize(herd_server *s, struct MHD_Connection *c, const cJSON *body);
enum MHD_Result herd_ep_detokenize(herd_server *s, struct MHD_Connection *c, const cJSON *body);

/* The reply's JSON: chunk 0: a whole response; 1: a streamed chunk; 2: a
 * chat stream's first chunk (delta with the role). text may be NULL (a
 * chunk with only finish_reason); r (usage) may be NULL. */
cJSON *herd_reply_object(herd_server *s, const herd_job *j, const char *text,
                         const char *finish, const herd_engine_result *r, int chunk);
/* Adds a finished request to the metrics. */
void herd_count_request(herd_server *s, const herd_engine_result *r);

#endif
