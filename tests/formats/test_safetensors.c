/* The safetensors reader on hand-built files (bytes and values written out
 * here, not by herd): a good file with every supported dtype, an unaligned
 * one, and every kind of damaged header or data; then herd_st_write read
 * back and its layout checked byte by byte. */
#include "formats/safetensors.h"
#include "test.h"
#include <stdint.h>
#include <unistd.h>

static char dir[] = "/tmp/herd-st-XXXXXX";

/* Writes the 8-byte length n, then json (padded with spaces to pad bytes),
 * then data. */
static const char *write_st(const char *name, uint64_t n, const char *json, size_t pad,
                            const void *data, size_t nd)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    for (int i = 0; i < 8; i++)
        fputc((int)(n >> (8 * i) & 0xff), f);
    size_t len = strlen(json);
    fwrite(json, 1, len, f);
    for (size_t i = len; i < pad; i++)
        fputc(' ', f);
    if (nd)
        fwrite(data, 1, nd, f);
    fclose(f);
    return path;
}

/* A file whose header length is the JSON's length plus padding. */
static const char *write_simple(const char *name, const char *json, const void *data,
                                size_t nd)
{
    return write_st(name, strlen(json), json, 0, data, nd);
}

static void check_bad_path(const char *label, const char *path, herd_status st,
                           const char *want)
{
    herd_st_file f;
    CHECK_FAILS(herd_st_open(path, &f), st);
    CHECK(f.header == NULL && f.map.data == NULL && f.entries == NULL);
    CHECK_MSG(strstr(herd_last_error(), want) != NULL, "%s: message '%s' lacks '%s'", label,
              herd_last_error(), want);
    CHECK_MSG(strstr(herd_last_error(), label) != NULL, "%s: message '%s' lacks the file",
              label, herd_last_error());
}

static void check_bad(const char *label, const char *json, const void *data, size_t nd,
                      herd_status st, const char *want)
{
    check_bad_path(label, write_simple(label, json, data, nd), st, want);
}

/* Little-endian bytes of the floats 1..6, the bfloat16s 1, -2, 0.5, 3, the
 * half 1.5, and the int64 7. */
static const uint8_t good_data[] = {
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40,
    0x00, 0x00, 0x80, 0x40, 0x00, 0x00, 0xa0, 0x40, 0x00, 0x00, 0xc0, 0x40,
    0x80, 0x3f, 0x00, 0xc0, 0x00, 0x3f, 0x40, 0x40,
    0x00, 0x3e, 0, 0, 0, 0, 0, 0,
    7, 0, 0, 0, 0, 0, 0, 0};
static const char good_json[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
    "\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[32,34]},"
    "\"d\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[40,48]},"
    "\"e\":{\"dtype\":\"F32\",\"shape\":[1,2,2],\"data_offsets\":[0,16]},"
    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,16],\"data_offsets\":[48,48]}}";

static void check_values(herd_st_file *f, int aligned)
{
    herd_tensor t;
    int found;
    herd_owned own = {0};
    CHECK_OK(herd_st_tensor(f, "a", &t, &found));
    CHECK(found && t.type == HERD_TYPE_F32 && t.rows == 2 && t.cols == 3);
    CHECK(((uintptr_t)t.data % 4 == 0) == aligned);
    const void *before = t.data;
    CHECK_OK(herd_st_align(&t, &own));
    CHECK((t.data == before) == aligned && (uintptr_t)t.data % 4 == 0);
    float a[6];
    memcpy(a, t.data, sizeof a);
    for (int i = 0; i < 6; i++)
        CHECK(a[i] == (float)(i + 1));
    CHECK_OK(herd_st_tensor(f, "b", &t, &found));
    CHECK(found && t.type == HERD_TYPE_BF16 && t.rows == 1 && t.cols == 4);
    uint16_t b[4];
    memcpy(b, t.data, sizeof b);
    CHECK(b[0] == 0x3f80 && b[1] == 0xc000 && b[2] == 0x3f00 && b[3] == 0x4040);
    CHECK_OK(herd_st_tensor(f, "c", &t, &found));
    CHECK(found && t.type == HERD_TYPE_F16 && t.rows == 1 && t.cols == 1);
    CHECK(((const uint8_t *)t.data)[1] == 0x3e);
    CHECK_OK(herd_st_tensor(f, "z", &t, &found));
    CHECK(found && t.rows == 0 && t.cols == 16);
    CHECK_OK(herd_st_tensor(f, "nope", &t, &found));
    CHECK(!found && t.data == NULL);
    CHECK_FAILS(herd_st_tensor(f, "d", &t, &found), HERD_E_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), "I64") && strstr(herd_last_error(), "tensor d"));
    CHECK_FAILS(herd_st_tensor(f, "e", &t, &found), HERD_E_UNSUPPORTED);
    CHECK(strstr(herd_last_error(), "3 dimensions"));
    herd_owned_free(&own);
}

static void test_good(void)
{
    herd_st_file f;
    /* Padded to a multiple of 8: the data starts aligned. */
    size_t pad = (strlen(good_json) + 7) / 8 * 8;
    CHECK_OK(herd_st_open(write_st("good.safetensors", pad, good_json, pad, good_data,
                                   sizeof good_data), &f));
    CHECK(f.n_entries == 6 && f.data_size == sizeof good_data);
    const herd_st_entry *d = herd_st_find(&f, "d");
    CHECK(d && d->elem_size == 8 && d->n_dims == 1 && d->shape[0] == 1 && d->size == 8);
    CHECK(d && d->data[0] == 7);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(f.metadata, "format");
    CHECK(cJSON_IsString(fmt) && strcmp(fmt->valuestring, "pt") == 0);
    CHECK(herd_st_find(&f, "__metadata__") == NULL);
    check_values(&f, 1);
    herd_st_close(&f);
    /* One byte of padding after the JSON: every tensor is misaligned and
     * herd_st_align copies. */
    size_t odd = pad + 1;
    CHECK_OK(herd_st_open(write_st("odd.safetensors", odd, good_json, odd, good_data,
                                   sizeof good_data), &f));
    check_values(&f, 0);
    herd_st_close(&f);
    CHECK_OK(herd_st_open(write_simple("empty-header.safetensors", "{}", NULL, 0), &f));
    CHECK(f.n_entries == 0 && herd_st_find(&f, "a") == NULL);
    herd_st_close(&f);
}

static void test_header_damage(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/empty.st", dir);
    FILE *f = fopen(path, "wb");
    fclose(f);
    check_bad_path("empty.st", path, HERD_E_FORMAT, "truncated");
    snprintf(path, sizeof path, "%s/short.st", dir);
    f = fopen(path, "wb");
    fwrite("\x10\0\0\0", 1, 4, f);
    fclose(f);
    check_bad_path("short.st", path, HERD_E_FORMAT, "truncated");
    check_bad_path("beyond.st", write_st("beyond.st", 1000, "{}", 0, NULL, 0), HERD_E_FORMAT,
                   "truncated");
    check_bad_path("huge.st", write_st("huge.st", UINT64_MAX - 3, "{}", 0, NULL, 0),
                   HERD_E_FORMAT, "header length");
    check_bad_path("zero.st", write_st("zero.st", 0, "{}", 0, NULL, 0), HERD_E_FORMAT, "JSON");
    check_bad("badjson.st", "{\"a\": {\"dtype\": ", NULL, 0, HERD_E_FORMAT, "JSON");
    check_bad("trailing.st", "{} xx", NULL, 0, HERD_E_FORMAT, "after the header");
    check_bad_path("nul.st", write_st("nul.st", 3, "{}", 0, "\0", 1), HERD_E_FORMAT,
                   "after the header");
    check_bad("array.st", "[1, 2]", NULL, 0, HERD_E_FORMAT, "object");
    check_bad("meta.st", "{\"__metadata__\": {\"k\": 1}}", NULL, 0, HERD_E_FORMAT,
              "__metadata__");
    check_bad("dup.st", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
              "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", "xy", 2,
              HERD_E_FORMAT, "twice");
    check_bad_path("missing.st", "/nonexistent/missing.st", HERD_E_IO, "missing.st");
}

#define T(dtype, shape, offs) "{\"t\":{\"dtype\":" dtype ",\"shape\":" shape \
                              ",\"data_offsets\":" offs "}}"

static void test_entry_damage(void)
{
    static const uint8_t z[64];
    check_bad("dtype.st", T("\"Q9\"", "[2]", "[0,8]"), z, 8, HERD_E_UNSUPPORTED, "Q9");
    CHECK(strstr(herd_last_error(), "tensor t"));
    check_bad("nodtype.st", "{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", z, 8,
              HERD_E_FORMAT, "dtype");
    check_bad("dtypenum.st", T("4", "[2]", "[0,8]"), z, 8, HERD_E_FORMAT, "dtype");
    check_bad("notobj.st", "{\"t\": [1]}", z, 8, HERD_E_FORMAT, "tensor t");
    check_bad("mismatch.st", T("\"F32\"", "[2,3]", "[0,20]"), z, 24, HERD_E_FORMAT, "needs 24");
    check_bad("mismatch2.st", T("\"BF16\"", "[4]", "[0,16]"), z, 16, HERD_E_FORMAT, "needs 8");
    check_bad("reversed.st", T("\"F32\"", "[2]", "[8,0]"), z, 8, HERD_E_FORMAT, "reversed");
    check_bad("range.st", T("\"F32\"", "[6]", "[1000,1024]"), z, 24, HERD_E_FORMAT,
              "truncated");
    check_bad("negoff.st", T("\"F32\"", "[2]", "[-8,0]"), z, 8, HERD_E_FORMAT, "data_offsets");
    check_bad("threeoff.st", T("\"F32\"", "[2]", "[0,8,8]"), z, 8, HERD_E_FORMAT,
              "data_offsets");
    check_bad("stroff.st", T("\"F32\"", "[2]", "[\"0\",8]"), z, 8, HERD_E_FORMAT,
              "data_offsets");
    check_bad("negshape.st", T("\"F32\"", "[-1,2]", "[0,8]"), z, 8, HERD_E_FORMAT, "shape");
    check_bad("fracshape.st", T("\"F32\"", "[1.5]", "[0,8]"), z, 8, HERD_E_FORMAT, "shape");
    check_bad("hugeshape.st", T("\"F32\"", "[1e15,1e15,1e15]", "[0,8]"), z, 8, HERD_E_FORMAT,
              "too large");
    check_bad("hugeshape2.st", T("\"F32\"", "[4294967296,4294967296]", "[0,8]"), z, 8,
              HERD_E_FORMAT, "too large");
    check_bad("bigshape.st", T("\"F32\"", "[1e300]", "[0,8]"), z, 8, HERD_E_FORMAT, "shape");
    check_bad("shapestr.st", T("\"F32\"", "\"2\"", "[0,8]"), z, 8, HERD_E_FORMAT, "shape");
    check_bad("rank.st", T("\"F32\"", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), z, 4,
              HERD_E_UNSUPPORTED, "9 dimensions");
    /* The good file cut short anywhere in its data. */
    size_t nd = sizeof good_data;
    check_bad("cut.st", good_json, good_data, nd - 4, HERD_E_FORMAT, "truncated");
    check_bad("cut2.st", good_json, good_data, 10, HERD_E_FORMAT, "truncated");
    check_bad("nodata.st", good_json, NULL, 0, HERD_E_FORMAT, "truncated");
}

/* herd_st_write, read back: values, the alignment of every tensor, and the
 * raw layout (length, space padding, contiguous data, widest first). */
static void test_write(void)
{
    uint16_t h[3] = {0x3f80, 0x4000, 0xc040};
    float w[2][3] = {{1, 2, 3}, {-4, 5.5f, 6}};
    float s = 0.25f;
    herd_st_tensor_out t[3] = {
        {"half", HERD_TYPE_BF16, 1, {3}, h},
        {"w", HERD_TYPE_F32, 2, {2, 3}, w},
        {"scalar", HERD_TYPE_F32, 0, {0}, &s},
    };
    cJSON *md = cJSON_CreateObject();
    cJSON_AddStringToObject(md, "format", "pt");
    char path[512];
    snprintf(path, sizeof path, "%s/written.safetensors", dir);
    CHECK_OK(herd_st_write(path, t, 3, md));
    cJSON_Delete(md);
    herd_st_file f;
    CHECK_OK(herd_st_open(path, &f));
    CHECK(f.n_entries == 3 && f.metadata);
    const uint8_t *base = f.map.data;
    CHECK((f.data - base) % 8 == 0);
    for (int i = 0; i < 3; i++) {
        herd_tensor x;
        int found;
        CHECK_OK(herd_st_tensor(&f, t[i].name, &x, &found));
        CHECK(found && x.type == t[i].type && (uintptr_t)x.data % herd_type_size(x.type) == 0);
    }
    const herd_st_entry *e = herd_st_find(&f, "w");
    CHECK(e && e->data == f.data && memcmp(e->data, w, sizeof w) == 0);
    e = herd_st_find(&f, "scalar");
    CHECK(e && e->n_dims == 0 && e->data == f.data + 24 && memcmp(e->data, &s, 4) == 0);
    e = herd_st_find(&f, "half");
    CHECK(e && e->data == f.data + 28 && memcmp(e->data, h, 6) == 0);
    CHECK(f.data_size == 34);
    CHECK(f.data[-1] == ' ' || f.data[-1] == '}');
    herd_st_close(&f);
    herd_st_tensor_out dup[2] = {t[0], t[0]};
    CHECK_FAILS(herd_st_write(path, dup, 2, NULL), HERD_E_ARG);
}

int main(void)
{
    if (!mkdtemp(dir))
        TEST_SKIP("no temporary folder");
    test_good();
    test_header_damage();
    test_entry_damage();
    test_write();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    TEST_END();
}
