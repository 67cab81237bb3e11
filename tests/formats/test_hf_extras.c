/* What a Hugging Face folder carries beside the weights: the chat template
 * of tokenizer_config.json (a string, or a list with a "default" entry) and
 * the tokenizer (tokenizer.model first, else tokenizer.json). Built on a copy
 * of the golden mha fixture's hf/ folder. */
#include "herd.h"
#include "test.h"
#include <unistd.h>

static char dir[] = "/tmp/herd-hf-extras-XXXXXX";

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    return system(cmd);
}

static void write_text(const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        abort();
    fputs(text, f);
    fclose(f);
}

static void check_template(const char *config, const char *want)
{
    write_text("tokenizer_config.json", config);
    herd_model *m;
    CHECK_OK(herd_model_open(dir, &m));
    if (!m)
        return;
    const char *t = herd_model_chat_template(m);
    if (want)
        CHECK_MSG(t && !strcmp(t, want), "template '%s', want '%s'", t ? t : "(null)", want);
    else
        CHECK(t == NULL);
    herd_model_free(m);
}

static void test_templates(void)
{
    check_template("{\"chat_template\": \"{{ '[INST] ' }}\"}", "{{ '[INST] ' }}");
    check_template("{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"},"
                   " {\"name\": \"default\", \"template\": \"<|start_header_id|>\"}]}",
                   "<|start_header_id|>");
    check_template("{\"bos_token\": \"<s>\"}", NULL);
    write_text("tokenizer_config.json", "{\"chat_template\": ");
    herd_model *m = NULL;
    CHECK_FAILS(herd_model_open(dir, &m), HERD_E_FORMAT);
    CHECK(strstr(herd_last_error(), "tokenizer_config.json") != NULL);
    write_text("tokenizer_config.json", "{}");
}

/* A tokenizer beside the weights is read and checked against the model's
 * vocabulary (96 here): the real ones have 32000 and 128256 tokens. */
static void test_tokenizers(const char *shared)
{
    char l2[512], l3[512];
    snprintf(l2, sizeof l2, "%s/tokenizers/llama2/tokenizer.model", shared);
    snprintf(l3, sizeof l3, "%s/tokenizers/llama3/tokenizer.json", shared);
    if (access(l2, R_OK) || access(l3, R_OK)) {
        printf("note: shared tokenizers absent; tokenizer files not checked\n");
        return;
    }
    herd_model *m = NULL;
    CHECK(sh("cp '%s' '%s/tokenizer.json'", l3, dir) == 0);
    CHECK_FAILS(herd_model_open(dir, &m), HERD_E_FORMAT);
    CHECK_MSG(strstr(herd_last_error(), "128256") != NULL, "%s", herd_last_error());
    CHECK(sh("cp '%s' '%s/tokenizer.model'", l2, dir) == 0);
    CHECK_FAILS(herd_model_open(dir, &m), HERD_E_FORMAT);
    CHECK_MSG(strstr(herd_last_error(), "32000") != NULL, "%s", herd_last_error());
    write_text("tokenizer.model", "not a tokenizer");
    CHECK_FAILS(herd_model_open(dir, &m), HERD_E_FORMAT);
    CHECK_MSG(strstr(herd_last_error(), "tokenizer.model") != NULL, "%s", herd_last_error());
}

int main(void)
{
    char src[512];
    snprintf(src, sizeof src, "%s/tests/fixtures/models/mha/hf", test_source());
    if (access(src, R_OK))
        TEST_SKIP("%s not found", src);
    if (!mkdtemp(dir) || sh("cp '%s'/* '%s'/", src, dir) != 0)
        return 1;
    test_templates();
    test_tokenizers(test_shared());
    CHECK(sh("rm -rf '%s'%s", dir, "") == 0);
    TEST_END();
}
