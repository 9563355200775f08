/* The app's files as a read-only directory tree under PYELF_VFS_ROOT, served from the zip archive
 * embedded in the binary: the modules' sources, the packages' data files and the distributions'
 * metadata, where `__file__` says they are. Nothing is extracted and nothing is written.
 *
 * The binary links musl statically, so the libc calls that name files are replaced at link time
 * (`ld --wrap`, see WRAPPED in runtime/mod.rs): a path under the root is answered from the archive,
 * any other path goes to musl as before. Python's open(), os.stat, os.listdir, os.scandir, glob,
 * pkgutil.get_data and C code alike see the tree. A file is opened as a sealed memfd holding its
 * bytes (a pipe where memfd_create is missing); changes under the root fail as on a read-only file
 * system (EROFS, after ENOENT and ENOTDIR as the kernel resolves the path first); statvfs answers
 * for it as for one; chdir into it is kept here (getcwd and relative paths follow it). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <lzma.h>
#include <zlib.h>
#include "launcher.h"

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#define MFD_ALLOW_SEALING 2U
#endif

/* How a file's bytes are kept: as the archive's methods say (stored, deflated), in a block of
 * sources compressed together (SOLID), or a module's .pyc made from its frozen code (raw or
 * zlib-compressed) behind the header python's loader checks against the source. */
enum { STORED = 0, DEFLATED = 8, PYC_RAW = 0x100, PYC_ZLIB = 0x101, SOLID = 0x102 };

/* The blocks of sources (freeze.py, `write_bundle`): stored entries under SOLID_DIR, which the
 * tree does not show, each raw LZMA2 (dictionary SOLID_DICT) with its decoded size in an extra
 * field SOLID_EXTRA; a source is an empty entry whose extra field SOLID_EXTRA gives its block, its
 * offset in the decoded block and its size. */
static const char SOLID_DIR[] = ".pyelf-solid/";
enum { SOLID_EXTRA = 0x5053, SOLID_DICT = 1 << 20 };

struct block {
    const unsigned char *local; /* its entry's local header, or NULL when the archive has none */
    uint32_t csize, usize;
};
static struct block *blocks;
static uint32_t n_blocks;

struct node {
    char *path;        /* relative to the root, no leading or trailing slash; "" is the root */
    int parent;        /* index of the directory holding it (-1 for the root) */
    int is_dir;
    const unsigned char *local; /* an archive file's local header (read when the file is: see
                                 * file_data), or NULL */
    const unsigned char *data;  /* a .pyc's code */
    uint32_t csize, usize;
    uint32_t source_size; /* a .pyc's: its source's size, in its header */
    uint32_t block, offset; /* a SOLID file's: its block, and where it starts in it decoded */
    uint16_t method;
};

/* The .pyc files of the frozen modules (frozen.c, written by freeze.py): for each source in the
 * tree, the marshalled code of the module compiled from it. */
struct pyelf_pyc {
    const char *source;
    const unsigned char *data;
    unsigned int size, usize; /* usize: 0 when the code is not compressed */
};
extern const unsigned char pyelf_pyc_magic[4];
/* The blobs the code is in (frozen.c's table points into them). */
extern const unsigned char pyelf_frozen_blob[], pyelf_frozen_blob_end[];
extern const unsigned char pyelf_packed_blob[], pyelf_packed_blob_end[];
extern const char pyelf_pyc_tag[]; /* sys.implementation.cache_tag */
extern const unsigned int pyelf_pyc_count;
extern const struct pyelf_pyc pyelf_pyc_files[];

static struct node *nodes;
static int n_nodes;
static size_t archive_size;
static const char ROOT[] = PYELF_VFS_ROOT; /* no trailing slash */
static const time_t MTIME = 315532800;      /* 1980-01-01, the archive's dates */

static uint16_t u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int by_path(const void *a, const void *b)
{
    return strcmp(((const struct node *)a)->path, ((const struct node *)b)->path);
}

static int find_node(const char *rel)
{
    int lo = 0, hi = n_nodes - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(nodes[mid].path, rel);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int add(struct node **list, int *n, int *cap, const char *path, size_t len, int is_dir)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        struct node *grown = realloc(*list, *cap * sizeof **list);
        if (grown == NULL)
            return -1;
        *list = grown;
    }
    struct node *nd = &(*list)[(*n)++];
    memset(nd, 0, sizeof *nd);
    nd->path = strndup(path, len);
    nd->is_dir = is_dir;
    return nd->path ? 0 : -1;
}

/* The archive, until its table is built. */
static const unsigned char *pending_zip;

/* The table is built once, by the first thread that looks a path up, under table_lock; table_built
 * says it is done. Not a pthread_once: a fork while another thread builds the table would leave
 * the child waiting for it forever. fork takes the lock first (atfork handlers, registered by
 * pyelf_vfs_init while the process has one thread), so a child has a table or none, and the
 * lock free. The same goes for solid_lock, which a thread holds while it decodes a block. */
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int table_built;
static pthread_mutex_t solid_lock = PTHREAD_MUTEX_INITIALIZER;

static void build_table(const unsigned char *zip, size_t size);
void pyelf_vfs_release(const void *lo, const void *hi, const void *p, size_t n);

static void ensure_table(void)
{
    if (__atomic_load_n(&table_built, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&table_lock);
    if (!table_built) {
        build_table(pending_zip, archive_size);
        __atomic_store_n(&table_built, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&table_lock);
}

static void locks_take(void)
{
    pthread_mutex_lock(&table_lock);
    pthread_mutex_lock(&solid_lock);
}

static void locks_give(void)
{
    pthread_mutex_unlock(&solid_lock);
    pthread_mutex_unlock(&table_lock);
}

/* Remembers the archive. Its table is built when a path under the root is first looked up, not
 * at start: an app that reads none of its files never pays for it (it was an eighth of an empty
 * script's start-up). */
void pyelf_vfs_init(const unsigned char *zip, size_t size)
{
    archive_size = size;
    pending_zip = zip;
    pthread_atfork(locks_take, locks_give, locks_give);
}

/* Sorts the `n` nodes of `list` by path and drops repeated paths; returns how many are left. */
static int sort_unique(struct node *list, int n)
{
    qsort(list, n, sizeof *list, by_path);
    int out = 0;
    for (int i = 0; i < n; i++) {
        if (out > 0 && strcmp(list[out - 1].path, list[i].path) == 0) {
            if (!list[i].is_dir) /* a file wins over a directory of the same name */
                list[out - 1] = list[i];
            else
                free(list[i].path);
            continue;
        }
        list[out++] = list[i];
    }
    return out;
}

/* Adds to the table the .pyc of each frozen module whose source is in it, in the `__pycache__`
 * directory beside the source, as pip leaves them. The header is the one python writes for a
 * source of this size and modification time: its loader takes the code without compiling. */
static void add_pycs(void)
{
    struct node *list = nodes;
    int n = n_nodes, cap = n_nodes;
    for (unsigned int k = 0; k < pyelf_pyc_count; k++) {
        const struct pyelf_pyc *e = &pyelf_pyc_files[k];
        int src = find_node(e->source);
        if (src < 0 || list[src].is_dir)
            continue; /* built without the modules' sources: no .pyc beside them either */
        uint32_t source_size = list[src].usize;
        /* DIR/NAME.py -> DIR/__pycache__/NAME.TAG.pyc, as importlib.util.cache_from_source */
        char pyc[PATH_MAX];
        const char *slash = strrchr(e->source, '/'), *base = slash ? slash + 1 : e->source;
        const char *dot = strrchr(base, '.');
        int dir_len = slash ? (int)(slash - e->source) + 1 : 0;
        int len = snprintf(pyc, sizeof pyc, "%.*s__pycache__/%.*s.%s.pyc", dir_len, e->source,
                           (int)(dot ? dot - base : (long)strlen(base)), base, pyelf_pyc_tag);
        if (len < 0 || (size_t)len >= sizeof pyc)
            continue;
        if (add(&list, &n, &cap, pyc, (size_t)len, 0) < 0)
            break;
        struct node *nd = &list[n - 1];
        nd->method = e->usize ? PYC_ZLIB : PYC_RAW;
        nd->data = e->data;
        nd->csize = e->size;
        nd->usize = 16 + (e->usize ? e->usize : e->size);
        nd->source_size = source_size;
        if (add(&list, &n, &cap, pyc, (size_t)dir_len + strlen("__pycache__"), 1) < 0)
            break;
        nodes = list; /* (find_node reads the table, which add may have moved) */
    }
    nodes = list;
    n_nodes = sort_unique(list, n);
}

/* The SOLID_EXTRA field among the `len` bytes of extra fields at `p` (its header included), or
 * NULL. */
static const unsigned char *solid_extra(const unsigned char *p, size_t len)
{
    while (len >= 4) {
        size_t size = 4u + u16(p + 2);
        if (size > len)
            return NULL;
        if (u16(p) == SOLID_EXTRA)
            return p;
        p += size;
        len -= size;
    }
    return NULL;
}

/* Records the block of sources numbered by the `len` decimal digits at `digits`. */
static void add_block(const char *digits, size_t len, const unsigned char *local, uint32_t csize,
                      const unsigned char *extra)
{
    uint32_t k = 0;
    if (len == 0 || len > 9 || extra == NULL || u16(extra + 2) != 4)
        return;
    for (size_t i = 0; i < len; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return;
        k = k * 10 + (uint32_t)(digits[i] - '0');
    }
    if (k >= n_blocks) {
        struct block *grown = realloc(blocks, (k + 1) * sizeof *blocks);
        if (grown == NULL)
            return;
        memset(grown + n_blocks, 0, (k + 1 - n_blocks) * sizeof *grown);
        blocks = grown;
        n_blocks = k + 1;
    }
    blocks[k].local = local;
    blocks[k].csize = csize;
    blocks[k].usize = u32(extra + 4);
}

/* Reads the archive's central directory into the sorted node table. */
static void build_table(const unsigned char *zip, size_t size)
{
    const unsigned char *eocd = NULL;
    for (size_t back = 22; back <= size && back <= 22 + 65535; back++) {
        if (u32(zip + size - back) == 0x06054b50) {
            eocd = zip + size - back;
            break;
        }
    }
    if (eocd == NULL)
        return;
    struct node *list = NULL;
    int n = 0, cap = 0;
    if (add(&list, &n, &cap, "", 0, 1) < 0)
        return;
    uint32_t count = u16(eocd + 10), offset = u32(eocd + 16);
    const unsigned char *p = zip + offset;
    for (uint32_t k = 0; k < count && p + 46 <= zip + size && u32(p) == 0x02014b50; k++) {
        uint16_t name_len = u16(p + 28), extra_len = u16(p + 30), comment_len = u16(p + 32);
        const char *name = (const char *)p + 46;
        const unsigned char *local = zip + u32(p + 42);
        int is_dir = name_len > 0 && name[name_len - 1] == '/';
        size_t len = is_dir ? name_len - 1u : name_len;
        const unsigned char *solid = solid_extra(p + 46 + name_len, extra_len);
        if (len > sizeof SOLID_DIR - 1 && memcmp(name, SOLID_DIR, sizeof SOLID_DIR - 1) == 0) {
            /* a block of sources: not a file of the tree */
            add_block(name + sizeof SOLID_DIR - 1, len - (sizeof SOLID_DIR - 1), local, u32(p + 20), solid);
            p += 46 + name_len + extra_len + comment_len;
            continue;
        }
        if (len > 0 && add(&list, &n, &cap, name, len, is_dir) == 0 && !is_dir) {
            struct node *nd = &list[n - 1];
            nd->method = u16(p + 10);
            nd->csize = u32(p + 20);
            nd->usize = u32(p + 24);
            nd->local = local; /* not read here: see file_data */
            if (solid != NULL && u16(solid + 2) == 12 && nd->method == STORED) {
                nd->method = SOLID;
                nd->block = u32(solid + 4);
                nd->offset = u32(solid + 8);
                nd->usize = u32(solid + 12);
            }
        }
        /* every directory above it */
        for (size_t i = 1; i < len; i++)
            if (name[i] == '/')
                add(&list, &n, &cap, name, i, 1);
        p += 46 + name_len + extra_len + comment_len;
    }
    nodes = list;
    n_nodes = sort_unique(list, n);
    add_pycs();
    /* The nodes hold copies of the names: the central directory is read for the last time. */
    if (zip + offset < eocd)
        pyelf_vfs_release(zip, zip + size, zip + offset, (size_t)(eocd + 22 - (zip + offset)));
    for (int i = 0; i < n_nodes; i++) {
        const char *slash = strrchr(nodes[i].path, '/');
        if (nodes[i].path[0] == '\0') {
            nodes[i].parent = -1;
        } else if (slash == NULL) {
            nodes[i].parent = find_node("");
        } else {
            char *dir = strndup(nodes[i].path, (size_t)(slash - nodes[i].path));
            nodes[i].parent = dir ? find_node(dir) : -1;
            free(dir);
        }
    }
}

/* Where a path leads, resolved as the kernel walks it: component by component from the host's
 * root, with `..` at the tree's root leading back out to the host, a missing component ending the
 * walk (ENOENT), a file used as a directory ending it (ENOTDIR), and a component longer than
 * NAME_MAX ending it (ENAMETOOLONG). The tree holds no symbolic links. */
enum last { LAST_NORM, LAST_DOT, LAST_DOTDOT };

struct where {
    int node;         /* the node reached, or -1 when the walk failed */
    int err;          /* why it failed */
    int slash;        /* the path ends with '/': what it names must be a directory */
    /* What the calls that change a directory look at before the last component (the kernel
     * walks only to its parent, then looks at its kind): */
    int parent_ok;    /* the walk reached the last component's parent, a directory of the tree */
    int last_is_root; /* the last component is the tree itself (its parent is the host's root) */
    enum last last;   /* the last component's kind */
    const char *host; /* a host path: the one given, or where a `..` out of the tree leads */
    char buf[2 * PATH_MAX + 2];
};

/* Skips what the walk from the host's root passes without leaving it: slashes, `.` and `..`. */
static const char *past_host_root(const char *p)
{
    for (;;) {
        while (*p == '/')
            p++;
        if (p[0] == '.' && (p[1] == '/' || p[1] == '\0'))
            p += 1;
        else if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == '\0'))
            p += 2;
        else
            return p;
    }
}

/* The child of directory `dir` named by the `len` bytes at `name`, or -1. */
static int child(int dir, const char *name, size_t len)
{
    char rel[PATH_MAX + NAME_MAX + 2];
    size_t dl = strlen(nodes[dir].path);
    if (dl + 1 + len + 1 > sizeof rel)
        return -1;
    memcpy(rel, nodes[dir].path, dl);
    size_t n = dl;
    if (dl > 0)
        rel[n++] = '/';
    memcpy(rel + n, name, len);
    rel[n + len] = '\0';
    return memchr(name, '\0', len) ? -1 : find_node(rel);
}

/* Resolves `path`: returns 1 when it leads into the tree (w->node, or w->err), 0 when it is the
 * host's (w->host is the path to pass on; w->parent_ok stays set when only a last `..` led out of
 * the tree). A path of PATH_MAX bytes or more is the host's: the kernel refuses it (ENAMETOOLONG)
 * before any walk. */
static int walk(const char *path, struct where *w)
{
    w->node = -1;
    w->err = 0;
    w->slash = 0;
    w->parent_ok = 0;
    w->last_is_root = 0;
    w->last = LAST_NORM;
    w->host = path;
    if (path == NULL || path[0] != '/' || strnlen(path, PATH_MAX) >= PATH_MAX)
        return 0;
    const size_t rl = sizeof ROOT - 2; /* the root's name, without its leading '/' */
    const char *p = path;
    for (;;) {
        const char *first = past_host_root(p);
        if (strncmp(first, ROOT + 1, rl) != 0 || (first[rl] != '\0' && first[rl] != '/'))
            return 0;
        if (pending_zip != NULL)
            ensure_table();
        if (nodes == NULL)
            return 0;
        int cur = find_node("");
        p = first + rl;
        /* Until another component comes, the last one is the tree itself. */
        w->parent_ok = 1;
        w->last_is_root = 1;
        w->last = LAST_NORM;
        int left = 0;
        for (;;) {
            const char *start = p;
            while (*p == '/')
                p++;
            if (*p == '\0') {
                w->slash = p > start;
                break;
            }
            const char *end = strchr(p, '/');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            const char *rest = p + len;
            while (*rest == '/')
                rest++;
            int is_last = *rest == '\0';
            int dot = len == 1 && p[0] == '.', dotdot = len == 2 && p[0] == '.' && p[1] == '.';
            w->parent_ok = 0;
            /* Looking anything up needs a directory (`file/x`, `file/.` and `file/..` alike). */
            if (!nodes[cur].is_dir) {
                w->err = ENOTDIR;
                return 1;
            }
            if (is_last) {
                w->parent_ok = 1;
                w->last_is_root = 0;
                w->last = dot ? LAST_DOT : dotdot ? LAST_DOTDOT : LAST_NORM;
            }
            if (dot) {
                w->slash = 1;
            } else if (dotdot) {
                if (nodes[cur].parent < 0) {
                    /* Out of the tree, to the host's root: the rest is walked from there. */
                    size_t n = strlen(p + 2);
                    if (n + 2 > sizeof w->buf) {
                        w->err = ENAMETOOLONG;
                        return 1;
                    }
                    memmove(w->buf + 1, p + 2, n + 1); /* (p may be in w->buf already) */
                    w->buf[0] = '/';
                    w->host = w->buf;
                    p = w->buf;
                    left = 1;
                    break;
                }
                cur = nodes[cur].parent;
                w->slash = 1;
            } else {
                if (len > NAME_MAX) {
                    w->err = ENAMETOOLONG;
                    return 1;
                }
                int next = child(cur, p, len);
                if (next < 0) {
                    w->err = ENOENT;
                    w->slash = rest > p + len;
                    return 1;
                }
                cur = next;
                w->slash = 0;
            }
            p += len;
        }
        if (!left) {
            w->node = cur;
            return 1;
        }
        if (w->parent_ok) /* a last `..` out of the tree: the host's root, its parent the tree */
            return 0;
        /* Back on the host: into the tree again (`/__pyelf__/../__pyelf__/x`), or the host's. */
    }
}

static int fail(int e)
{
    errno = e;
    return -1;
}

static void fill_stat(int i, struct stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = 0x70796c66; /* "pylf" */
    st->st_ino = (ino_t)i + 1;
    st->st_mode = nodes[i].is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
    st->st_nlink = nodes[i].is_dir ? 2 : 1;
    st->st_size = nodes[i].is_dir ? 4096 : nodes[i].usize;
    st->st_blksize = 4096;
    st->st_blocks = (st->st_size + 511) / 512;
    st->st_atime = st->st_mtime = st->st_ctime = MTIME;
}

/* Where a file's bytes are: after its local header in the archive (whose name and extra field may
 * differ from the central directory's), or a .pyc's code. The local headers are read only here:
 * reading every one of them when the table is built made the whole archive resident (the kernel
 * maps the 64 KiB around each page read), tens of megabytes for a large app. */
static const unsigned char *file_data(const struct node *nd)
{
    if (nd->local == NULL)
        return nd->data;
    return nd->local + 30 + u16(nd->local + 26) + u16(nd->local + 28);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A .pyc's bytes: the header (magic number, flags 0: checked by the source's modification time
 * and size), then the code. */
static unsigned char *pyc_contents(const struct node *nd, int *free_it)
{
    unsigned char *buf = malloc(nd->usize);
    if (buf == NULL)
        return NULL;
    memcpy(buf, pyelf_pyc_magic, 4);
    put32(buf + 4, 0);
    put32(buf + 8, (uint32_t)MTIME);
    put32(buf + 12, nd->source_size);
    uLongf size = nd->usize - 16;
    if (nd->method == PYC_RAW) {
        memcpy(buf + 16, file_data(nd), size);
    } else if (uncompress(buf + 16, &size, file_data(nd), nd->csize) != Z_OK || size != nd->usize - 16) {
        free(buf);
        return NULL;
    }
    *free_it = 1;
    return buf;
}

/* The last block of sources decoded: sources are read in bursts (a traceback's files, one
 * package's modules), often from the same block. */
static uint32_t decoded_block = UINT32_MAX;
static unsigned char *decoded;

/* A source's bytes, copied out of its block (decoded unless it is the last one decoded). */
static unsigned char *solid_contents(const struct node *nd, int *free_it)
{
    if (nd->block >= n_blocks || blocks[nd->block].local == NULL)
        return NULL;
    const struct block *b = &blocks[nd->block];
    if (nd->offset > b->usize || nd->usize > b->usize - nd->offset)
        return NULL;
    unsigned char *buf = malloc(nd->usize ? nd->usize : 1);
    if (buf == NULL)
        return NULL;
    pthread_mutex_lock(&solid_lock);
    if (decoded_block != nd->block) {
        free(decoded);
        decoded_block = UINT32_MAX;
        decoded = malloc(b->usize ? b->usize : 1);
        lzma_options_lzma options;
        memset(&options, 0, sizeof options);
        options.dict_size = SOLID_DICT;
        lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &options}, {LZMA_VLI_UNKNOWN, NULL}};
        const unsigned char *in = b->local + 30 + u16(b->local + 26) + u16(b->local + 28);
        size_t in_pos = 0, out_pos = 0;
        if (decoded != NULL && lzma_raw_buffer_decode(filters, NULL, in, &in_pos, b->csize, decoded, &out_pos,
                                                      b->usize) == LZMA_OK && out_pos == b->usize)
            decoded_block = nd->block;
        pyelf_vfs_release(pending_zip, pending_zip + archive_size, b->local, (size_t)(in + b->csize - b->local));
    }
    int ok = decoded_block == nd->block;
    if (ok)
        memcpy(buf, decoded + nd->offset, nd->usize);
    pthread_mutex_unlock(&solid_lock);
    if (!ok) {
        free(buf);
        return NULL;
    }
    *free_it = 1;
    return buf;
}

/* A file's bytes, inflated if need be; *free_it says whether the caller frees them. */
static unsigned char *contents(int i, int *free_it)
{
    struct node *nd = &nodes[i];
    *free_it = 0;
    if (nd->method == STORED)
        return (unsigned char *)file_data(nd);
    if (nd->method == PYC_RAW || nd->method == PYC_ZLIB)
        return pyc_contents(nd, free_it);
    if (nd->method == SOLID)
        return solid_contents(nd, free_it);
    if (nd->method != DEFLATED)
        return NULL;
    unsigned char *buf = malloc(nd->usize ? nd->usize : 1);
    if (buf == NULL)
        return NULL;
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        free(buf);
        return NULL;
    }
    z.next_in = (unsigned char *)file_data(nd);
    z.avail_in = nd->csize;
    z.next_out = buf;
    z.avail_out = nd->usize;
    int r = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (r != Z_STREAM_END || z.total_out != nd->usize) {
        free(buf);
        return NULL;
    }
    *free_it = 1;
    return buf;
}

static int write_all(int fd, const unsigned char *data, size_t size)
{
    while (size > 0) {
        ssize_t w = write(fd, data, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        size -= (size_t)w;
    }
    return 0;
}

/* Drops from the process's memory the pages that reading the bytes [p, p + n) of the read-only
 * blob [lo, hi) mapped in, once they are copied or decompressed: the kernel maps the 64 KiB
 * around each page read from a file (fault-around), so that reading a few hundred modules and
 * files spread over the binary left most of its tens of megabytes resident, where python reads its
 * .pyc files into memory it frees. The pages stay in the page cache: read again, they are mapped
 * again from the file. Only whole pages inside the blob are dropped (never written, so they are
 * the file's bytes, not relocated data), and only when the blobs are the file's pages: not in a
 * binary upx unpacked into anonymous memory, nor in the fuzzer (PYELF_FILE_BACKED). */
void pyelf_vfs_release(const void *lo, const void *hi, const void *p, size_t n)
{
#ifndef PYELF_FILE_BACKED
    (void)lo, (void)hi, (void)p, (void)n;
#else
    static uintptr_t page;
    if (page == 0) {
        long ps = sysconf(_SC_PAGESIZE);
        page = ps > 0 ? (uintptr_t)ps : 4096;
    }
    uintptr_t window = page > 65536 ? page : 65536; /* the kernel's fault_around_bytes */
    uintptr_t a = (uintptr_t)p & ~(window - 1), b = ((uintptr_t)p + n + window - 1) & ~(window - 1);
    uintptr_t first = ((uintptr_t)lo + page - 1) & ~(page - 1), last = (uintptr_t)hi & ~(page - 1);
    if (a < first)
        a = first;
    if (b > last)
        b = last;
    if (a < b)
        madvise((void *)a, b - a, MADV_DONTNEED);
#endif
}

/* Releases what reading file `i` mapped in (pyelf_vfs_release). */
static void release_node(int i)
{
    const struct node *nd = &nodes[i];
    if (nd->method == PYC_RAW)
        pyelf_vfs_release(pyelf_frozen_blob, pyelf_frozen_blob_end, file_data(nd), nd->csize);
    else if (nd->method == PYC_ZLIB)
        pyelf_vfs_release(pyelf_packed_blob, pyelf_packed_blob_end, file_data(nd), nd->csize);
    else if (nd->method == SOLID)
        return; /* its block's pages are released when it is decoded */
    else
        pyelf_vfs_release(pending_zip, pending_zip + archive_size, nd->local,
                          (size_t)(file_data(nd) + nd->csize - nd->local));
}

/* An open file descriptor reading the file `i`. */
static int open_node(int i, int flags)
{
    int free_it;
    unsigned char *data = contents(i, &free_it);
    if (data == NULL)
        return fail(EIO);
    size_t size = nodes[i].usize;
    const char *base = strrchr(nodes[i].path, '/');
    base = base ? base + 1 : nodes[i].path;
    unsigned mfd_flags = MFD_ALLOW_SEALING | ((flags & O_CLOEXEC) ? MFD_CLOEXEC : 0);
    int fd = memfd_create(base, mfd_flags);
    if (fd >= 0) {
        if (write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
            close(fd);
            fd = fail(EIO);
        } else {
            fchmod(fd, 0444);
            fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
        }
    } else {
        /* No memfd_create (Linux before 3.17, or a seccomp filter): a pipe, if the file fits. */
        int p[2];
        if (size > 65536 || pipe2(p, (flags & O_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
            fd = fail(ENOMEM);
        } else if (write_all(p[1], data, size) < 0) {
            close(p[0]);
            close(p[1]);
            fd = fail(EIO);
        } else {
            close(p[1]);
            fd = p[0];
        }
    }
    if (free_it)
        free(data);
    release_node(i);
    return fd;
}

enum change { CREATE, REMOVE, REMOVE_DIR, MAKE_DIR };

/* The error a change of what `w` leads to in the tree gets, in the kernel's order. The calls that
 * add or remove a name (mkdir, unlink, rmdir, rename) walk to the last component's parent: its
 * errors come first (ENOENT, ENOTDIR), then the last component's kind (`.`, `..`), then the
 * read-only mount (EROFS), which unlink and rmdir meet before looking the name up (but for a
 * missing name: see below); mkdir and open look it up first (EEXIST, EISDIR, ENAMETOOLONG). The
 * tree itself sits in the host's root, whose answers are a writable directory's. */
static int change_error(const struct where *w, enum change op)
{
    if (!w->parent_ok)
        return w->err;
    int i = w->node;
    switch (op) {
    case REMOVE:
        if (w->last != LAST_NORM || w->last_is_root)
            return EISDIR;
        /* One deliberate difference from a read-only mount: removing a name that is not there
         * is ENOENT, as where pip installs (a writable file system, whoever owns it). Code that
         * removes a file that may not be there counts on it (CPython's own test helpers do, for
         * the `.pyc` beside every module on sys.path). */
        return w->err == ENOENT ? ENOENT : EROFS;
    case REMOVE_DIR:
        if (w->last == LAST_DOT)
            return EINVAL;
        if (w->last == LAST_DOTDOT)
            return ENOTEMPTY;
        if (w->last_is_root)
            return EBUSY; /* a mount point */
        return w->err == ENOENT ? ENOENT : EROFS; /* (as above) */
    case MAKE_DIR:
        if (w->last != LAST_NORM || i >= 0)
            return EEXIST;
        return w->err == ENOENT ? EROFS : w->err;
    case CREATE:
    default:
        if (w->slash || (i >= 0 && nodes[i].is_dir))
            return EISDIR;
        if (i >= 0)
            return EROFS;
        return w->err == ENOENT ? EROFS : w->err;
    }
}

static int vfs_open(const struct where *w, int flags)
{
    int i = w->node;
    if (i < 0)
        return fail((flags & O_CREAT) ? change_error(w, CREATE) : w->err);
    int is_dir = nodes[i].is_dir;
    /* (musl counts O_PATH in O_ACCMODE: an O_PATH descriptor only reads) */
    int writes = (flags & (O_RDONLY | O_WRONLY | O_RDWR)) != O_RDONLY || (flags & O_TRUNC);
    if (flags & O_CREAT) {
        if (flags & O_EXCL)
            return fail(EEXIST);
        if (w->slash || is_dir)
            return fail(EISDIR);
    } else if (!is_dir && (w->slash || (flags & O_DIRECTORY))) {
        return fail(ENOTDIR);
    }
    if (is_dir) /* also read-only: no descriptor can stand for a directory of the tree */
        return fail(EISDIR);
    if (writes)
        return fail(EROFS);
    return open_node(i, flags);
}

/* --- a working directory in the tree ---
 * The kernel cannot have its working directory in the tree, so chdir() into it is kept here:
 * while it is set, the wrapped functions (and getcwd) resolve relative paths against it, as the
 * kernel would. Children started meanwhile inherit the process's real working directory. */
static char vcwd[4096];
static volatile int vcwd_set;
static pthread_mutex_t vcwd_lock = PTHREAD_MUTEX_INITIALIZER;

/* `path` made absolute against the working directory in the tree, when there is one and `path`
 * is relative (into buf); otherwise `path` itself. */
static const char *resolve(const char *path, char *buf, size_t size)
{
    /* (a path the kernel refuses for its length is left to it) */
    if (!vcwd_set || path == NULL || path[0] == '/' || path[0] == '\0' || strnlen(path, PATH_MAX) >= PATH_MAX)
        return path;
    pthread_mutex_lock(&vcwd_lock);
    int n = vcwd_set ? snprintf(buf, size, "%s/%s", vcwd, path) : -1;
    pthread_mutex_unlock(&vcwd_lock);
    return n < 0 || (size_t)n >= size ? path : buf;
}

#define RESOLVE(p) \
    char p##_resolved[2 * PATH_MAX + 2]; \
    p = resolve(p, p##_resolved, sizeof p##_resolved)
#define RESOLVE_AT(dirfd, p) \
    char p##_resolved[2 * PATH_MAX + 2]; \
    if ((dirfd) == AT_FDCWD) \
        p = resolve(p, p##_resolved, sizeof p##_resolved)

/* --- the wrapped libc functions --- */

int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
int __real_stat(const char *restrict path, struct stat *restrict st);
int __real_lstat(const char *restrict path, struct stat *restrict st);
int __real_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags);
int __real_access(const char *path, int mode);
int __real_faccessat(int dirfd, const char *path, int mode, int flags);
DIR *__real_opendir(const char *path);
struct dirent *__real_readdir(DIR *d);
int __real_closedir(DIR *d);
void __real_rewinddir(DIR *d);
int __real_dirfd(DIR *d);
ssize_t __real_readlink(const char *restrict path, char *restrict buf, size_t size);
ssize_t __real_readlinkat(int dirfd, const char *restrict path, char *restrict buf, size_t size);
FILE *__real_fopen(const char *restrict path, const char *restrict mode);
int __real_mkdir(const char *path, mode_t mode);
int __real_mkdirat(int dirfd, const char *path, mode_t mode);
int __real_unlink(const char *path);
int __real_unlinkat(int dirfd, const char *path, int flags);
int __real_rmdir(const char *path);
int __real_rename(const char *old, const char *new);
int __real_renameat(int olddirfd, const char *old, int newdirfd, const char *new);
int __real_chdir(const char *path);

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t) : 0;
}

/* open and openat: `at` says which of musl's to call for a host path. Paths given relative to a
 * directory descriptor are the host's (no descriptor is in the tree): `walk` takes absolute paths
 * only. */
static int open_either(int at, int dirfd, const char *path, int flags, mode_t mode)
{
    RESOLVE_AT(dirfd, path);
    struct where w;
    if (walk(path, &w))
        return vfs_open(&w, flags);
    return at ? __real_openat(dirfd, w.host, flags, mode) : __real_open(w.host, flags, mode);
}

int __wrap_open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_either(0, AT_FDCWD, path, flags, mode);
}

int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return open_either(1, dirfd, path, flags, mode);
}

static int vfs_stat(const struct where *w, struct stat *st)
{
    if (w->node < 0)
        return fail(w->err);
    if (w->slash && !nodes[w->node].is_dir)
        return fail(ENOTDIR);
    fill_stat(w->node, st);
    return 0;
}

int __wrap_stat(const char *restrict path, struct stat *restrict st)
{
    RESOLVE(path);
    struct where w;
    return walk(path, &w) ? vfs_stat(&w, st) : __real_stat(w.host, st);
}

int __wrap_lstat(const char *restrict path, struct stat *restrict st)
{
    RESOLVE(path);
    struct where w;
    return walk(path, &w) ? vfs_stat(&w, st) : __real_lstat(w.host, st);
}

int __wrap_fstatat(int dirfd, const char *restrict path, struct stat *restrict st, int flags)
{
    RESOLVE_AT(dirfd, path);
    struct where w;
    if (walk(path, &w))
        return vfs_stat(&w, st);
    return __real_fstatat(dirfd, w.host, st, flags);
}

static int vfs_access(const struct where *w, int mode)
{
    if (w->node < 0)
        return fail(w->err);
    if (w->slash && !nodes[w->node].is_dir)
        return fail(ENOTDIR);
    if (mode & W_OK)
        return fail(EROFS);
    if ((mode & X_OK) && !nodes[w->node].is_dir)
        return fail(EACCES);
    return 0;
}

int __wrap_access(const char *path, int mode)
{
    RESOLVE(path);
    struct where w;
    return walk(path, &w) ? vfs_access(&w, mode) : __real_access(w.host, mode);
}

int __wrap_faccessat(int dirfd, const char *path, int mode, int flags)
{
    RESOLVE_AT(dirfd, path);
    struct where w;
    if (walk(path, &w))
        return vfs_access(&w, mode);
    return __real_faccessat(dirfd, w.host, mode, flags);
}

/* A directory being read: told apart from musl's DIR by the list of those open. */
struct vdir {
    struct vdir *next;
    int node;
    int pos; /* the next node index to look at; -2 and -1 are "." and ".." */
    struct dirent ent;
};
static struct vdir *open_dirs;
static pthread_mutex_t dirs_lock = PTHREAD_MUTEX_INITIALIZER;

static struct vdir *ours(DIR *d)
{
    pthread_mutex_lock(&dirs_lock);
    struct vdir *v = open_dirs;
    while (v != NULL && (DIR *)v != d)
        v = v->next;
    pthread_mutex_unlock(&dirs_lock);
    return v;
}

DIR *__wrap_opendir(const char *path)
{
    RESOLVE(path);
    struct where w;
    if (!walk(path, &w))
        return __real_opendir(w.host);
    if (w.node < 0) {
        errno = w.err;
        return NULL;
    }
    if (!nodes[w.node].is_dir) {
        errno = ENOTDIR;
        return NULL;
    }
    struct vdir *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->node = w.node;
    v->pos = -2;
    pthread_mutex_lock(&dirs_lock);
    v->next = open_dirs;
    open_dirs = v;
    pthread_mutex_unlock(&dirs_lock);
    return (DIR *)v;
}

struct dirent *__wrap_readdir(DIR *d)
{
    struct vdir *v = ours(d);
    if (v == NULL)
        return __real_readdir(d);
    const char *name;
    int node;
    if (v->pos < 0) {
        name = v->pos == -2 ? "." : "..";
        node = v->node;
        v->pos++;
    } else {
        while (v->pos < n_nodes && nodes[v->pos].parent != v->node)
            v->pos++;
        if (v->pos >= n_nodes)
            return NULL;
        node = v->pos++;
        const char *slash = strrchr(nodes[node].path, '/');
        name = slash ? slash + 1 : nodes[node].path;
    }
    memset(&v->ent, 0, sizeof v->ent);
    v->ent.d_ino = (ino_t)node + 1;
    v->ent.d_type = nodes[node].is_dir ? DT_DIR : DT_REG;
    v->ent.d_reclen = sizeof v->ent;
    snprintf(v->ent.d_name, sizeof v->ent.d_name, "%s", name);
    return &v->ent;
}

int __wrap_closedir(DIR *d)
{
    pthread_mutex_lock(&dirs_lock);
    struct vdir **link = &open_dirs;
    while (*link != NULL && (DIR *)*link != d)
        link = &(*link)->next;
    struct vdir *v = *link;
    if (v != NULL)
        *link = v->next;
    pthread_mutex_unlock(&dirs_lock);
    if (v == NULL)
        return __real_closedir(d);
    free(v);
    return 0;
}

void __wrap_rewinddir(DIR *d)
{
    struct vdir *v = ours(d);
    if (v == NULL)
        __real_rewinddir(d);
    else
        v->pos = -2;
}

int __wrap_dirfd(DIR *d)
{
    return ours(d) ? fail(ENOTSUP) : __real_dirfd(d);
}

/* Nothing in the tree is a symbolic link. */
static ssize_t vfs_readlink(const struct where *w)
{
    if (w->node < 0)
        return fail(w->err);
    if (w->slash && !nodes[w->node].is_dir)
        return fail(ENOTDIR);
    return fail(EINVAL);
}

ssize_t __wrap_readlink(const char *restrict path, char *restrict buf, size_t size)
{
    RESOLVE(path);
    struct where w;
    return walk(path, &w) ? vfs_readlink(&w) : __real_readlink(w.host, buf, size);
}

ssize_t __wrap_readlinkat(int dirfd, const char *restrict path, char *restrict buf, size_t size)
{
    RESOLVE_AT(dirfd, path);
    struct where w;
    return walk(path, &w) ? vfs_readlink(&w) : __real_readlinkat(dirfd, w.host, buf, size);
}

FILE *__wrap_fopen(const char *restrict path, const char *restrict mode)
{
    RESOLVE(path);
    struct where w;
    if (!walk(path, &w))
        return __real_fopen(w.host, mode);
    /* The open(2) flags of the mode, as musl's fopen makes them. */
    int flags = strchr(mode, '+') ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
    if (mode[0] == 'w')
        flags |= O_CREAT | O_TRUNC;
    if (mode[0] == 'a')
        flags |= O_CREAT | O_APPEND;
    if (strchr(mode, 'x'))
        flags |= O_EXCL;
    if (strchr(mode, 'e'))
        flags |= O_CLOEXEC;
    int fd = vfs_open(&w, flags);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, mode);
    if (f == NULL)
        close(fd);
    return f;
}

/* Changes under the root: a read-only file system. Returns 1 (with errno set) for a path
 * into the tree, 0 for any other (w->host is then the path to pass on). */
static int refused(const char *path, enum change op, struct where *w)
{
    if (!walk(path, w) && !w->parent_ok)
        return 0;
    errno = change_error(w, op);
    return 1;
}

int __wrap_mkdir(const char *path, mode_t mode)
{
    RESOLVE(path);
    struct where w;
    return refused(path, MAKE_DIR, &w) ? -1 : __real_mkdir(w.host, mode);
}

int __wrap_mkdirat(int dirfd, const char *path, mode_t mode)
{
    RESOLVE_AT(dirfd, path);
    struct where w;
    return refused(path, MAKE_DIR, &w) ? -1 : __real_mkdirat(dirfd, w.host, mode);
}

int __wrap_unlink(const char *path)
{
    RESOLVE(path);
    struct where w;
    return refused(path, REMOVE, &w) ? -1 : __real_unlink(w.host);
}

int __wrap_unlinkat(int dirfd, const char *path, int flags)
{
    RESOLVE_AT(dirfd, path);
    struct where w;
    return refused(path, (flags & AT_REMOVEDIR) ? REMOVE_DIR : REMOVE, &w) ? -1 : __real_unlinkat(dirfd, w.host, flags);
}

int __wrap_rmdir(const char *path)
{
    RESOLVE(path);
    struct where w;
    return refused(path, REMOVE_DIR, &w) ? -1 : __real_rmdir(w.host);
}

/* A rename from or into the tree, in the kernel's order: the parents' errors, then a rename
 * between the tree and the host (EXDEV), then names that are not plain names (EBUSY), then the
 * read-only mount (EROFS). wo->host and wn->host are the paths to pass on otherwise. */
static int rename_refused(const char *old, const char *new, struct where *wo, struct where *wn)
{
    int in_old = walk(old, wo) || wo->parent_ok, in_new = walk(new, wn) || wn->parent_ok;
    if (!in_old && !in_new)
        return 0;
    if (in_old && !wo->parent_ok)
        errno = wo->err;
    else if (in_new && !wn->parent_ok)
        errno = wn->err;
    else if (in_old != in_new)
        errno = EXDEV;
    else if (wo->last != LAST_NORM || wo->last_is_root || wn->last != LAST_NORM || wn->last_is_root)
        errno = EBUSY;
    else
        errno = EROFS;
    return 1;
}

int __wrap_rename(const char *old, const char *new)
{
    RESOLVE(old);
    RESOLVE(new);
    struct where wo, wn;
    return rename_refused(old, new, &wo, &wn) ? -1 : __real_rename(wo.host, wn.host);
}

int __wrap_renameat(int olddirfd, const char *old, int newdirfd, const char *new)
{
    RESOLVE_AT(olddirfd, old);
    RESOLVE_AT(newdirfd, new);
    struct where wo, wn;
    if (rename_refused(old, new, &wo, &wn))
        return -1;
    return __real_renameat(olddirfd, wo.host, newdirfd, wn.host);
}

/* The tree as a file system: read-only, its size the archive's. */
int __real_statvfs(const char *restrict path, struct statvfs *restrict st);

int __wrap_statvfs(const char *restrict path, struct statvfs *restrict st)
{
    RESOLVE(path);
    struct where w;
    if (!walk(path, &w))
        return __real_statvfs(w.host, st);
    if (w.node < 0)
        return fail(w.err);
    if (w.slash && !nodes[w.node].is_dir)
        return fail(ENOTDIR);
    memset(st, 0, sizeof *st);
    st->f_bsize = st->f_frsize = 4096;
    st->f_blocks = (fsblkcnt_t)((archive_size + 4095) / 4096);
    st->f_files = (fsfilcnt_t)n_nodes;
    st->f_flag = ST_RDONLY | ST_NOSUID;
    st->f_namemax = 255;
    return 0;
}

int __wrap_chdir(const char *path)
{
    RESOLVE(path);
    struct where w;
    if (!walk(path, &w)) {
        int r = __real_chdir(w.host);
        if (r == 0)
            vcwd_set = 0;
        return r;
    }
    int i = w.node;
    if (i < 0)
        return fail(w.err);
    if (!nodes[i].is_dir)
        return fail(ENOTDIR);
    pthread_mutex_lock(&vcwd_lock);
    snprintf(vcwd, sizeof vcwd, "%s%s%s", ROOT, nodes[i].path[0] ? "/" : "", nodes[i].path);
    vcwd_set = 1;
    pthread_mutex_unlock(&vcwd_lock);
    return 0;
}

int __real_fchdir(int fd);

int __wrap_fchdir(int fd)
{
    int r = __real_fchdir(fd);
    if (r == 0)
        vcwd_set = 0;
    return r;
}

char *__real_getcwd(char *buf, size_t size);

char *__wrap_getcwd(char *buf, size_t size)
{
    if (!vcwd_set)
        return __real_getcwd(buf, size);
    pthread_mutex_lock(&vcwd_lock);
    size_t n = strlen(vcwd) + 1;
    char *out = buf;
    if (buf == NULL)
        out = malloc(size > n ? size : n);
    if (out == NULL || (buf != NULL && size < n)) {
        pthread_mutex_unlock(&vcwd_lock);
        errno = out == NULL ? ENOMEM : ERANGE;
        return NULL;
    }
    memcpy(out, vcwd, n);
    pthread_mutex_unlock(&vcwd_lock);
    return out;
}

/* For the loader (loader.c): the bytes of the tree's file at `path` when they are stored in the
 * archive as they are (the shared objects of wheels), and its name in the tree (ROOT/...) in
 * `name`. -1 with errno: ENOENT (or what the walk met) when there is no such file, EINVAL when it
 * is compressed. */
int pyelf_vfs_stored(const char *path, const unsigned char **data, size_t *size, char *name, size_t cap)
{
    struct where w;
    if (!walk(path, &w)) {
        errno = ENOENT;
        return -1;
    }
    if (w.node < 0)
        return fail(w.err);
    if (nodes[w.node].is_dir)
        return fail(EISDIR);
    if (nodes[w.node].method != 0 || nodes[w.node].csize != nodes[w.node].usize)
        return fail(EINVAL);
    if (sizeof ROOT + strlen(nodes[w.node].path) + 1 > cap)
        return fail(ENAMETOOLONG);
    *data = file_data(&nodes[w.node]);
    *size = nodes[w.node].usize;
    strcpy(name, ROOT);
    strcat(name, "/");
    strcat(name, nodes[w.node].path);
    return 0;
}

/* The embedded archive (NULL when there is none). */
void pyelf_vfs_archive(const unsigned char **zip, size_t *size)
{
    *zip = pending_zip;
    *size = archive_size;
}
