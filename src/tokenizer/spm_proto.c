/* SentencePiece's tokenizer.model: a protobuf ModelProto, read by hand.
 *   ModelProto      1: repeated SentencePiece, 2: TrainerSpec, 3: NormalizerSpec
 *   SentencePiece   1: piece (string), 2: score (float), 3: type (enum)
 *   TrainerSpec     3: model_type (1 unigram, 2 BPE, 3 word, 4 char),
 *                   24: treat_whitespace_as_suffix, 35: byte_fallback,
 *                   40..43: unk/bos/eos/pad ids, 44: unk_surface
 *   NormalizerSpec  1: name, 2: precompiled_charsmap, 3: add_dummy_prefix,
 *                   4: remove_extra_whitespaces, 5: escape_whitespaces
 * Every other field is skipped by its wire type. Every length and varint is
 * checked against the end of its message. */
#include "tokenizer/spm.h"
#include "base/error.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p, *end;
    const char *path;
} pb_cur;

typedef struct {
    uint32_t num;
    int wire;             /* 0 varint, 1 fixed64, 2 bytes, 5 fixed32 */
    uint64_t v;           /* varint, fixed32 or fixed64 value */
    pb_cur sub;           /* wire 2: the bytes */
} pb_field;

static herd_status pb_varint(pb_cur *c, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p >= c->end)
            return herd_fail(HERD_E_FORMAT, "%s: truncated varint", c->path);
        uint8_t b = *c->p++;
        *v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            return HERD_OK;
        if (shift == 63)
            break;
    }
    return herd_fail(HERD_E_FORMAT, "%s: a varint longer than 10 bytes", c->path);
}

static herd_status pb_fixed(pb_cur *c, int n, uint64_t *v)
{
    if (c->end - c->p < n)
        return herd_fail(HERD_E_FORMAT, "%s: truncated fixed%d field", c->path, 8 * n);
    *v = 0;
    for (int i = n - 1; i >= 0; i--)
        *v = *v << 8 | c->p[i];
    c->p += n;
    return HERD_OK;
}

static herd_status pb_next(pb_cur *c, pb_field *f)
{
    uint64_t tag;
    HERD_TRY(pb_varint(c, &tag));
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    if (tag >> 3 == 0 || tag >> 3 > 0x1FFFFFFF)
        return herd_fail(HERD_E_FORMAT, "%s: bad protobuf field number", c->path);
    switch (f->wire) {
    case 0:
        return pb_varint(c, &f->v);
    case 1:
        return pb_fixed(c, 8, &f->v);
    case 5:
        return pb_fixed(c, 4, &f->v);
    case 2:
        HERD_TRY(pb_varint(c, &f->v));
        if (f->v > (uint64_t)(c->end - c->p))
            return herd_fail(HERD_E_FORMAT, "%s: a field of %llu bytes runs past its end",
                             c->path, (unsigned long long)f->v);
        f->sub = (pb_cur){c->p, c->p + f->v, c->path};
        c->p += f->v;
        return HERD_OK;
    default:
        return herd_fail(HERD_E_FORMAT, "%s: protobuf wire type %d is not valid here",
                         c->path, f->wire);
    }
}

static herd_status want(const pb_field *f, int wire, const char *path, const char *what)
{
    if (f->wire != wire)
        return herd_fail(HERD_E_FORMAT, "%s: %s has wire type %d, not %d", path, what,
                         f->wire, wire);
    return HERD_OK;
}

/* An int32 field (negative values come as 10-byte varints). */
static herd_status pb_int32(const pb_field *f, const char *path, const char *what, int *out)
{
    HERD_TRY(want(f, 0, path, what));
    int64_t v = (int64_t)f->v;
    if (v < INT32_MIN || v > INT32_MAX)
        return herd_fail(HERD_E_FORMAT, "%s: %s %lld is out of range", path, what,
                         (long long)v);
    *out = (int)v;
    return HERD_OK;
}

typedef struct {
    const char **pieces;
    size_t *lens;
    float *scores;
    int *types;
    int n, cap;
    int model_type, byte_fallback, ws_suffix, unk, bos, eos;
    const char *unk_surface;
    size_t unk_surface_len;
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    const char *norm_name;
    size_t norm_name_len, charsmap_len;
} proto_model;

static herd_status grow_pieces(proto_model *m, const char *path)
{
    int cap = m->cap ? m->cap * 2 : 1024;
    if (m->n >= (1 << 24))
        return herd_fail(HERD_E_FORMAT, "%s: more than %d pieces", path, 1 << 24);
    const char **p = realloc(m->pieces, (size_t)cap * sizeof *p);
    if (p)
        m->pieces = p;
    size_t *l = realloc(m->lens, (size_t)cap * sizeof *l);
    if (l)
        m->lens = l;
    float *s = realloc(m->scores, (size_t)cap * sizeof *s);
    if (s)
        m->scores = s;
    int *t = realloc(m->types, (size_t)cap * sizeof *t);
    if (t)
        m->types = t;
    if (!p || !l || !s || !t)
        return herd_fail(HERD_E_NOMEM, "%s: out of memory for the pieces", path);
    m->cap = cap;
    return HERD_OK;
}

static herd_status parse_piece(proto_model *m, pb_cur c)
{
    if (m->n == m->cap)
        HERD_TRY(grow_pieces(m, c.path));
    int i = m->n++, ty = HERD_PIECE_NORMAL;
    m->pieces[i] = "";
    m->lens[i] = 0;
    m->scores[i] = 0.0f;
    pb_field f;
    while (c.p < c.end) {
        HERD_TRY(pb_next(&c, &f));
        if (f.num == 1) {
            HERD_TRY(want(&f, 2, c.path, "a piece"));
            m->pieces[i] = (const char *)f.sub.p;
            m->lens[i] = (size_t)(f.sub.end - f.sub.p);
        } else if (f.num == 2) {
            HERD_TRY(want(&f, 5, c.path, "a score"));
            uint32_t u = (uint32_t)f.v;
            memcpy(&m->scores[i], &u, 4);
        } else if (f.num == 3) {
            HERD_TRY(pb_int32(&f, c.path, "a piece type", &ty));
        }
    }
    if (ty < HERD_PIECE_NORMAL || ty > HERD_PIECE_BYTE)
        return herd_fail(HERD_E_FORMAT, "%s: piece %d has unknown type %d", c.path, i, ty);
    m->types[i] = ty;
    return HERD_OK;
}

static herd_status parse_trainer(proto_model *m, pb_cur c)
{
    pb_field f;
    while (c.p < c.end) {
        HERD_TRY(pb_next(&c, &f));
        switch (f.num) {
        case 3: HERD_TRY(pb_int32(&f, c.path, "model_type", &m->model_type)); break;
        case 24: HERD_TRY(pb_int32(&f, c.path, "treat_whitespace_as_suffix", &m->ws_suffix)); break;
        case 35: HERD_TRY(pb_int32(&f, c.path, "byte_fallback", &m->byte_fallback)); break;
        case 40: HERD_TRY(pb_int32(&f, c.path, "unk_id", &m->unk)); break;
        case 41: HERD_TRY(pb_int32(&f, c.path, "bos_id", &m->bos)); break;
        case 42: HERD_TRY(pb_int32(&f, c.path, "eos_id", &m->eos)); break;
        case 44:
            HERD_TRY(want(&f, 2, c.path, "unk_surface"));
            m->unk_surface = (const char *)f.sub.p;
            m->unk_surface_len = (size_t)(f.sub.end - f.sub.p);
            break;
        default: break;
        }
    }
    return HERD_OK;
}

static herd_status parse_normalizer(proto_model *m, pb_cur c)
{
    pb_field f;
    while (c.p < c.end) {
        HERD_TRY(pb_next(&c, &f));
        switch (f.num) {
        case 1:
            HERD_TRY(want(&f, 2, c.path, "the normalizer name"));
            m->norm_name = (const char *)f.sub.p;
            m->norm_name_len = (size_t)(f.sub.end - f.sub.p);
            break;
        case 2:
            HERD_TRY(want(&f, 2, c.path, "precompiled_charsmap"));
            m->charsmap_len = (size_t)(f.sub.end - f.sub.p);
            break;
        case 3: HERD_TRY(pb_int32(&f, c.path, "add_dummy_prefix", &m->add_dummy_prefix)); break;
        case 4: HERD_TRY(pb_int32(&f, c.path, "remove_extra_whitespaces", &m->remove_extra_ws)); break;
        case 5: HERD_TRY(pb_int32(&f, c.path, "escape_whitespaces", &m->escape_ws)); break;
        default: break;
        }
    }
    return HERD_OK;
}

static herd_status parse_model(proto_model *m, pb_cur c)
{
    pb_field f;
    while (c.p < c.end) {
        HERD_TRY(pb_next(&c, &f));
        if (f.num >= 1 && f.num <= 3)
            HERD_TRY(want(&f, 2, c.path, "a ModelProto field"));
        if (f.num == 1)
            HERD_TRY(parse_piece(m, f.sub));
        else if (f.num == 2)
            HERD_TRY(parse_trainer(m, f.sub));
        else if (f.num == 3)
            HERD_TRY(parse_normalizer(m, f.sub));
    }
    return HERD_OK;
}

/* What herd can encode: BPE with the identity normalizer, whitespace as prefix. */
static herd_status check_model(const proto_model *m, const char *path)
{
    static const char *kinds[] = {"?", "Unigram", "BPE", "word", "char"};
    if (m->n == 0)
        return herd_fail(HERD_E_FORMAT, "%s: no pieces: not a SentencePiece model", path);
    if (m->model_type != 2)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: a SentencePiece %s model: herd encodes only "
                         "BPE models (Llama 1/2)", path,
                         m->model_type >= 1 && m->model_type <= 4 ? kinds[m->model_type] : "?");
    if (m->charsmap_len > 0)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: the normalizer '%.*s' needs a precompiled "
                         "character map (NFKC); herd supports only 'identity'", path,
                         (int)(m->norm_name_len > 64 ? 64 : m->norm_name_len),
                         m->norm_name ? m->norm_name : "");
    if (m->ws_suffix)
        return herd_fail(HERD_E_UNSUPPORTED, "%s: treat_whitespace_as_suffix is not supported",
                         path);
    if (m->unk < 0 || m->unk >= m->n)
        return herd_fail(HERD_E_FORMAT, "%s: unk_id %d is not one of the %d pieces", path,
                         m->unk, m->n);
    return HERD_OK;
}

static herd_status build(const proto_model *m, const char *path, herd_tokenizer **out)
{
    herd_spm_spec s = {
        .n = m->n, .pieces = m->pieces, .lens = m->lens, .scores = m->scores,
        .types = m->types, .bos = m->bos, .eos = m->eos, .unk = m->unk,
        .add_dummy_prefix = m->add_dummy_prefix, .remove_extra_ws = m->remove_extra_ws,
        .escape_ws = m->escape_ws, .byte_fallback = m->byte_fallback,
        .unk_surface = m->unk_surface, .unk_surface_len = m->unk_surface_len,
    };
    return herd_spm_build(&s, path, out);
}

herd_status herd_spm_parse_proto(const char *path, const uint8_t *data, size_t size,
                                 herd_tokenizer **out)
{
    /* SentencePiece's defaults for fields a file leaves out. */
    proto_model m = {.model_type = 1, .unk = 0, .bos = 1, .eos = 2, .add_dummy_prefix = 1,
                     .remove_extra_ws = 1, .escape_ws = 1};
    herd_status s = parse_model(&m, (pb_cur){data, data + size, path});
    if (s == HERD_OK)
        s = check_model(&m, path);
    if (s == HERD_OK)
        s = build(&m, path, out);
    free(m.pieces);
    free(m.lens);
    free(m.scores);
    free(m.types);
    return s;
}
