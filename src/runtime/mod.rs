//! What runs inside every binary pyelf builds: the launcher (`main`), the read-only file tree,
//! the import hooks, named semaphores and the C heap. Everything here is compiled into or
//! embedded in the user's binary; the build stages (`crate::build`) only write it out, fill in
//! the per-app values and compile it. See `README.md` beside this file for what each part
//! guarantees.

/// The importer the launcher installs: frozen modules, compiled (Cython) modules and the file
/// tree's sources and extension modules, found as python finds them.
pub const IMPORTER_PY: &str = include_str!("importer.py");

/// The launcher's C source; its per-app values come from `launcher.h`.
pub const LAUNCHER_C: &str = include_str!("launcher.c");

/// Named semaphores without /dev/shm (for multiprocessing's fork start method there).
pub const SEMAPHORES_C: &str = include_str!("semaphores.c");

/// malloc and its family: dlmalloc by default, or CPython's bundled mimalloc, instead of musl's mallocng.
pub const MALLOC_C: &str = include_str!("malloc.c");

/// memcpy, memmove, memset and memcmp in place of musl's (short copies and comparisons are much of
/// CPython's time).
pub const STRING_C: &str = include_str!("string.c");

/// strerror, gai_strerror and strsignal in glibc's words, in place of musl's (python shows them in
/// every OSError, socket.gaierror and signal.strsignal).
pub const MESSAGES_C: &str = include_str!("messages.c");

/// The relocated data made read-only after start (RELRO), and OpenSSL's relocated only when a
/// module that links it is first initialised (`crate::build::lazyreloc` defers it).
pub const RELRO_C: &str = include_str!("relro.c");

/// What the inittab calls before the init function of a module that links OpenSSL.
pub const RELOCATE_OPENSSL: &str = "pyelf_relocate_openssl";

/// Caches of attribute reads and writes at the call sites of the app's Cython-compiled code: the
/// inline fast paths, which the compiled modules include (as [`ATTRCACHE_HEADER`]).
pub const ATTRCACHE_H: &str = include_str!("attrcache.h");

/// The name the compiled modules include [`ATTRCACHE_H`] by.
pub const ATTRCACHE_HEADER: &str = "attrcache.h";

/// Filling those caches: what the interpreter's specialiser decides, with CPython's internal API.
pub const ATTRCACHE_C: &str = include_str!("attrcache.c");

/// The deep-frozen modules' code objects handed to the import system in place of unmarshalling
/// their bytes, and finished on first use; their table is generated (`src/build/deepfreeze.py`).
pub const DEEPFREEZE_C: &str = include_str!("deepfreeze.c");

/// The table's layout, shared by [`DEEPFREEZE_C`] and the generated table.
pub const DEEPFREEZE_H: &str = include_str!("deepfreeze.h");

/// The code objects of the frames the app's compiled functions add to tracebacks, at CPython's
/// positions of what failed; each compiled module includes it (`crate::build::cython::python_positions`).
pub const POSITIONS_C: &str = include_str!("positions.c");

/// python's TypeError for a call of a compiled function with the wrong arguments; each compiled
/// module includes it (`crate::build::cython::python_arguments`).
pub const ARGUMENTS_C: &str = include_str!("arguments.c");

/// The loader of the wheels' shared objects (dlopen, dlsym, dladdr, dl_iterate_phdr, TLS).
pub const LOADER_C: &str = include_str!("loader.c");

/// The app's files as a read-only tree under [`VFS_ROOT`].
pub const VFS_C: &str = include_str!("vfs.c");

/// Where the app's files are (modules' `__file__`, data files, distribution metadata): a tree the
/// binary serves from its embedded archive, which no real directory can shadow.
pub const VFS_ROOT: &str = "/__pyelf__";

/// The stdlib's directory in the tree, under [`VFS_ROOT`], which is `sys.prefix`: modules'
/// sources and the stdlib packages' data files are there, as under python's prefix.
pub const STDLIB_TREE: &str = "lib/python3.13";

/// The libc functions the launcher's C replaces (`ld --wrap`): the link adds these.
pub const WRAPPED: &[&str] = &[
    "sem_open",
    "sem_close",
    "sem_unlink", // semaphores.c
    "open",
    "openat",
    "stat",
    "lstat",
    "fstatat",
    "access",
    "faccessat",
    "opendir",
    "readdir",
    "closedir",
    "rewinddir",
    "dirfd",
    "readlink",
    "readlinkat",
    "fopen",
    "mkdir",
    "mkdirat",
    "unlink",
    "unlinkat",
    "rmdir",
    "rename",
    "renameat",
    "chdir",
    "fchdir",
    "getcwd",
    "statvfs",                        // vfs.c
    "PyMarshal_ReadObjectFromString", // deepfreeze.c
];
