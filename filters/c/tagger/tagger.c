/* A wasmstash filter in C, written against filters/sdk/ABI.md alone (no SDK,
 * no libc), to show that ABI v1 is language-neutral.
 *
 * It marks every event with "lang":"c" and drops events whose JSON contains
 * the configured text. Config: {} or {"drop_if_contains": "text"}.
 *
 * It edits the event as text: the field goes in before the closing brace.
 * The host validates every replaced event, so an event that already has a
 * "lang" field comes back tagged _wasmfilter_failure (duplicate key), not
 * corrupted.
 *
 * Build: ./build.sh (clang and wasm-ld from Debian's clang and lld packages). */

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long long u64;

#define EXPORT(name) __attribute__((export_name(name)))

static const u8 FIELD[] = ",\"lang\":\"c\"";
#define FIELD_LEN (sizeof FIELD - 1)

/* Memory: a bump allocator over the heap. The host allocates its input
 * buffer once and reuses it, and this filter reuses one output buffer, so
 * memory grows only when a batch is larger than any before. When memory
 * cannot grow it traps, as ABI.md asks: a null pointer would point the host
 * at this module's own statics. */
extern u8 __heap_base;
static u32 heap_top;

static u8 *bump(u32 len) {
    if (!heap_top) heap_top = (u32)&__heap_base;
    u32 start = (heap_top + 7u) & ~7u;
    u32 end = start + len;
    u32 have = (u32)__builtin_wasm_memory_size(0) * 65536u;
    if (end < start) __builtin_trap();
    if (end > have && __builtin_wasm_memory_grow(0, (end - have + 65535u) / 65536u) == (unsigned long)-1) __builtin_trap();
    heap_top = end;
    return (u8 *)start;
}

static u64 pack(const u8 *ptr, u32 len) { return ((u64)(u32)ptr << 32) | len; }

static u32 read_u32(const u8 *p) { return p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24; }

static void write_u32(u8 *p, u32 v) {
    p[0] = (u8)v; p[1] = (u8)(v >> 8); p[2] = (u8)(v >> 16); p[3] = (u8)(v >> 24);
}

EXPORT("wasmstash_abi_version") u32 abi_version(void) { return 1; }
EXPORT("wasmstash_alloc") u8 *alloc(u32 len) { return bump(len); }
EXPORT("wasmstash_free") void release(u8 *ptr, u32 len) { (void)ptr; (void)len; }

/* Config */
static u8 drop_text[256];
static u32 drop_len;
static const u8 CONFIG_ERROR[] =
    "invalid config: expected {} or {\"drop_if_contains\": \"text\"} (text without escapes, at most 255 bytes)";

static u32 skip_ws(const u8 *s, u32 i, u32 n) {
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++;
    return i;
}

static int starts_with(const u8 *s, u32 i, u32 n, const char *word) {
    for (u32 k = 0; word[k]; k++)
        if (i + k >= n || s[i + k] != (u8)word[k]) return 0;
    return 1;
}

EXPORT("wasmstash_init") u64 init(const u8 *cfg, u32 n) {
    u32 i = skip_ws(cfg, 0, n);
    if (i >= n || cfg[i++] != '{') goto bad;
    i = skip_ws(cfg, i, n);
    if (i < n && cfg[i] == '}') return 0;
    if (!starts_with(cfg, i, n, "\"drop_if_contains\"")) goto bad;
    i = skip_ws(cfg, i + 18, n);
    if (i >= n || cfg[i++] != ':') goto bad;
    i = skip_ws(cfg, i, n);
    if (i >= n || cfg[i++] != '"') goto bad;
    drop_len = 0;
    while (i < n && cfg[i] != '"') {
        if (cfg[i] == '\\' || drop_len == sizeof drop_text) goto bad;
        drop_text[drop_len++] = cfg[i++];
    }
    i = skip_ws(cfg, i + 1, n);
    if (i >= n || cfg[i] != '}' || skip_ws(cfg, i + 1, n) != n) goto bad;
    return 0;
bad:
    return pack(CONFIG_ERROR, sizeof CONFIG_ERROR - 1);
}

static int contains(const u8 *hay, u32 hay_len, const u8 *needle, u32 needle_len) {
    if (needle_len == 0 || needle_len > hay_len) return 0;
    for (u32 i = 0; i + needle_len <= hay_len; i++) {
        u32 k = 0;
        while (k < needle_len && hay[i + k] == needle[k]) k++;
        if (k == needle_len) return 1;
    }
    return 0;
}

/* Output */
static u8 *out;
static u32 out_cap;

static u8 *output_buffer(u32 need) {
    if (need > out_cap) {
        u32 cap = need < 65536 ? 65536 : need * 2;
        out = bump(cap);
        out_cap = cap;
    }
    return out;
}

EXPORT("wasmstash_process") u64 process(const u8 *batch, u32 len) {
    static u8 empty[4];
    if (len < 4) return pack(empty, 4);
    u32 count = read_u32(batch);
    /* First pass: check the frame and size the output. */
    u32 need = 4, pos = 4;
    for (u32 e = 0; e < count; e++) {
        if (pos + 4 > len) return pack(empty, 4);
        u32 n = read_u32(batch + pos);
        if (n > len - pos - 4) return pack(empty, 4);
        need += 5 + n + FIELD_LEN;
        pos += 4 + n;
    }
    u8 *w = output_buffer(need);
    write_u32(w, count);
    u32 o = 4;
    pos = 4;
    for (u32 e = 0; e < count; e++) {
        u32 n = read_u32(batch + pos);
        const u8 *event = batch + pos + 4;
        pos += 4 + n;
        if (contains(event, n, drop_text, drop_len)) {
            w[o] = 2; /* dropped */
            write_u32(w + o + 1, 0);
            o += 5;
            continue;
        }
        /* Find the closing brace, and whether anything precedes it. */
        u32 close = n;
        while (close > 0 && event[close - 1] != '}') close--;
        u32 before = close ? close - 1 : 0;
        u32 last = skip_ws(event, 1, before);
        int empty_object = last >= before;
        u8 *payload = w + o + 5;
        u32 head = close ? close - 1 : n;
        __builtin_memcpy(payload, event, head);
        u32 p = head;
        const u8 *field = empty_object ? FIELD + 1 : FIELD;
        u32 field_len = empty_object ? FIELD_LEN - 1 : FIELD_LEN;
        __builtin_memcpy(payload + p, field, field_len);
        p += field_len;
        payload[p++] = '}';
        w[o] = 1; /* replaced */
        write_u32(w + o + 1, p);
        o += 5 + p;
    }
    return pack(w, o);
}
