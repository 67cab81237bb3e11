/* GPT-2's byte-to-unicode mapping: byte-level BPE vocabularies (tokenizer.json,
 * GGUF "gpt2") spell each byte as one printable character. The printable
 * bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other
 * 68 bytes, in order, become U+0100..U+0143. */
#include "tokenizer/bpe.h"

/* The code point that spells byte b. */
static unsigned byte_cp(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE))
        return b;
    /* The bytes below: 0x00..0x20 come first, then 0x7F..0xA0, then 0xAD. */
    if (b <= 0x20)
        return 0x100 + b;
    if (b <= 0xA0)
        return 0x100 + 0x21 + (b - 0x7F);
    return 0x143; /* 0xAD */
}

/* The byte spelled by code point cp, -1 when none. */
static int cp_byte(unsigned cp)
{
    if (cp < 0x100)
        return byte_cp(cp) == cp ? (int)cp : -1;
    if (cp <= 0x120)
        return (int)(cp - 0x100);
    if (cp <= 0x142)
        return (int)(cp - 0x121 + 0x7F);
    return cp == 0x143 ? 0xAD : -1;
}

int herd_gpt2_decode(const char *s, size_t n, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    int k = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        if (u[i] < 0x80) {
            cp = u[i++];
        } else if (u[i] >= 0xC2 && u[i] <= 0xDF && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
            cp = (unsigned)(u[i] & 0x1F) << 6 | (u[i + 1] & 0x3F);
            i += 2;
        } else {
            return -1; /* every spelling character is below U+0800 */
        }
        int b = cp_byte(cp);
        if (b < 0)
            return -1;
        out[k++] = (char)b;
    }
    return k;
}

size_t herd_gpt2_encode(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = byte_cp((unsigned char)s[i]);
        if (cp < 0x80) {
            out[k++] = (char)cp;
        } else {
            out[k++] = (char)(0xC0 | cp >> 6);
            out[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return k;
}
