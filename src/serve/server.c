/* herd serve's HTTP side: the libmicrohttpd daemon (a thread per
 * connection), request bodies up to 1 MiB, the API key, routing, and a
 * shutdown that lets running requests finish. */
#include "serve/http.h"
#include "base/error.h"
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    char *body;
    size_t len;
    int too_big;
} request;

static int authorized(herd_server *s, struct MHD_Connection *c)
{
    if (!s->api_key)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return h && !strncmp(h, "Bearer ", 7) && !strcmp(h + 7, s->api_key);
}

static enum MHD_Result route_post(herd_server *s, struct MHD_Connection *c, const char *url,
                                  const request *rq)
{
    cJSON *body = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->len);
    if (!body)
        return herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                                "the body is not valid JSON", NULL);
    enum MHD_Result r;
    if (!cJSON_IsObject(body))
        r = herd_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_request_error",
                             "the body must be a JSON object", NULL);
    else if (!strcmp(url, "/v1/completions") || !strcmp(url, "/completions"))
        r = herd_ep_complete(s, c, body, 0);
    else if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions"))
        r = herd_ep_complete(s, c, body, 1);
    else if (!strcmp(url, "/tokenize"))
        r = herd_ep_tokenize(s, c, body);
    else
        r = herd_ep_detokenize(s, c, body);
    cJSON_Delete(body);
    return r;
}

static int is_post_path(const char *url)
{
    static const char *const p[] = {"/v1/completions", "/completions", "/v1/chat/completions",
                                    "/chat/completions", "/tokenize", "/detokenize"};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++)
        if (!strcmp(url, p[i]))
            return 1;
    return 0;
}

static enum MHD_Result route(herd_server *s, struct MHD_Connection *c, const char *url,
                             const char *method, const request *rq)
{
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    int open = !strcmp(url, "/health") || !strcmp(url, "/v1/health") ||
               !strcmp(url, "/v1/models") || !strcmp(url, "/models");
    if (!open && !authorized(s, c))
        return herd_reply_error(c, MHD_HTTP_UNAUTHORIZED, "authentication_error",
                                "invalid or missing API key (Authorization: Bearer KEY)", NULL);
    if (get && (!strcmp(url, "/health") || !strcmp(url, "/v1/health")))
        return herd_reply_text(c, MHD_HTTP_OK, "application/json", "{\"status\":\"ok\"}");
    if (get && (!strcmp(url, "/v1/models") || !strcmp(url, "/models")))
        return herd_ep_models(s, c);
    if (get && !strcmp(url, "/metrics"))
        return herd_ep_metrics(s, c);
    if (post && is_post_path(url))
        return route_post(s, c, url, rq);
    return herd_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found_error", "no such endpoint", NULL);
}

static enum MHD_Result too_big(struct MHD_Connection *c)
{
    return herd_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "invalid_request_error",
                            "the request body is larger than 1 MiB", NULL);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    herd_server *s = cls;
    request *rq = *con_cls;
    if (!rq) {
        if (!(rq = calloc(1, sizeof *rq)))
            return MHD_NO;
        *con_cls = rq;
        pthread_mutex_lock(&s->mu);
        s->requests++;
        s->in_flight++;
        pthread_mutex_unlock(&s->mu);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > HERD_SERVE_MAX_BODY)
            return too_big(c);
        return MHD_YES;
    }
    if (*upload_size) {
        if (rq->len + *upload_size > HERD_SERVE_MAX_BODY)
            rq->too_big = 1;
        if (!rq->too_big) {
            char *b = realloc(rq->body, rq->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + rq->len, upload, *upload_size);
            rq->body = b;
            rq->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    return rq->too_big ? too_big(c) : route(s, c, url, method, rq);
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c, (void)toe;
    herd_server *s = cls;
    request *rq = *con_cls;
    if (!rq)
        return;
    free(rq->body);
    free(rq);
    *con_cls = NULL;
    pthread_mutex_lock(&s->mu);
    s->in_flight--;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

/* The address to listen on: host (a name or a literal) and port. */
static herd_status resolve(const char *host, int port, struct sockaddr_storage *ss,
                           socklen_t *len)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE}, *ai;
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    int e = getaddrinfo(host, p, &hints, &ai);
    if (e)
        return herd_fail(HERD_E_ARG, "%s: %s", host, gai_strerror(e));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return HERD_OK;
}

herd_status herd_server_start(const herd_serve_opts *o, herd_server **out)
{
    *out = NULL;
    struct sockaddr_storage ss;
    socklen_t sl;
    HERD_TRY(resolve(o->host ? o->host : "127.0.0.1", o->port, &ss, &sl));
    herd_server *s = calloc(1, sizeof *s);
    if (!s)
        return herd_fail(HERD_E_NOMEM, "out of memory");
    const char *base = strrchr(o->model, '/');
    s->model_name = strdup(base && base[1] ? base + 1 : o->model);
    s->api_key = o->api_key;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    herd_status st = s->model_name ? herd_engine_new(o->model, &o->eng, &s->engine)
                                   : herd_fail(HERD_E_NOMEM, "out of memory");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ITC | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    if (st == HERD_OK) {
        s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, access_cb, s,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                                MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600,
                                MHD_OPTION_END);
        if (!s->d)
            st = herd_fail(HERD_E_IO, "cannot listen on %s:%d (in use?)",
                           o->host ? o->host : "127.0.0.1", o->port);
    }
    if (st != HERD_OK) {
        herd_engine_free(s->engine);
        free(s->model_name);
        free(s);
        return st;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : o->port;
    *out = s;
    return HERD_OK;
}

int herd_server_port(const herd_server *s) { return s->port; }

void herd_server_stop(herd_server *s)
{
    if (!s)
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    pthread_mutex_lock(&s->mu);
    while (s->in_flight > 0)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->d);
    herd_engine_free(s->engine);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    free(s->model_name);
    free(s);
}
