/* herd serve: an OpenAI-compatible HTTP server (libmicrohttpd) over one
 * model. herd_server_start listens in its own threads; herd_server_stop
 * stops accepting, lets the running requests finish and closes. */
#ifndef HERD_SERVE_SERVER_H
#define HERD_SERVE_SERVER_H
#include "infer/engine.h"

typedef struct {
    const char *model;     /* model path */
    const char *host;      /* "127.0.0.1" */
    int port;              /* 8080 */
    herd_engine_opts eng;  /* context, parallel sequences, KV blocks, batch */
    const char *api_key;   /* NULL: no key */
} herd_serve_opts;

typedef struct herd_server herd_server;

herd_status herd_server_start(const herd_serve_opts *o, herd_server **out);
/* The port it listens on (useful with port 0). */
int herd_server_port(const herd_server *s);
void herd_server_stop(herd_server *s);

#endif
