/* POSIX named semaphores where the system has no /dev/shm (an empty root, a scratch container):
 * musl keeps them as files there. Linked with `--wrap=sem_open,sem_close,sem_unlink`.
 *
 * When creating one fails because /dev/shm is missing, the semaphore is made in anonymous shared
 * memory instead: a process and the children it forks share it, which is all multiprocessing's
 * fork start method needs (it unlinks each semaphore as soon as it is made). For the spawn and
 * forkserver start methods, whose children open the semaphore by name, the creation fails as it
 * does without pyelf (FileNotFoundError in the parent, not children that die at start): which
 * one asks is read from the calling Python frame, multiprocessing's SemLock.__init__, whose
 * `unlink_now` is true only for fork. */
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>

sem_t *__real_sem_open(const char *name, int flags, ...);
int __real_sem_close(sem_t *sem);
int __real_sem_unlink(const char *name);

#define ANON_MAX 256
static struct {
    sem_t *sem;
    char name[252];
    int linked;
} anon[ANON_MAX];
static pthread_mutex_t anon_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether the semaphore being created will be unlinked at once (multiprocessing's fork context):
 * `unlink_now` in the frame of the Python code that asks for it; yes when that cannot be told. */
static int unlinked_at_once(void)
{
    if (!PyGILState_Check())
        return 1;
    PyFrameObject *frame = PyEval_GetFrame();
    if (frame == NULL)
        return 1;
    PyObject *locals = PyFrame_GetLocals(frame);
    if (locals == NULL) {
        PyErr_Clear();
        return 1;
    }
    PyObject *value = NULL;
    int found = PyMapping_GetOptionalItemString(locals, "unlink_now", &value);
    Py_DECREF(locals);
    if (found < 0)
        PyErr_Clear();
    int yes = found <= 0 || PyObject_IsTrue(value) != 0;
    Py_XDECREF(value);
    return yes;
}

static int find(const char *name, sem_t *sem)
{
    for (int i = 0; i < ANON_MAX; i++)
        if (anon[i].sem != NULL && (sem ? anon[i].sem == sem : anon[i].linked && strcmp(anon[i].name, name) == 0))
            return i;
    return -1;
}

sem_t *__wrap_sem_open(const char *name, int flags, ...)
{
    mode_t mode = 0;
    unsigned value = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        value = va_arg(ap, unsigned);
        va_end(ap);
    }
    sem_t *sem = __real_sem_open(name, flags, mode, value);
    if (sem != SEM_FAILED || errno != ENOENT || !(flags & O_CREAT) || strlen(name) >= sizeof anon[0].name)
        return sem;
    int saved = errno;
    if (!unlinked_at_once()) {
        errno = saved;
        return SEM_FAILED;
    }
    pthread_mutex_lock(&anon_lock);
    int slot = find(name, NULL);
    if (slot >= 0) {
        pthread_mutex_unlock(&anon_lock);
        if (flags & O_EXCL) {
            errno = EEXIST;
            return SEM_FAILED;
        }
        return anon[slot].sem;
    }
    for (slot = 0; slot < ANON_MAX && anon[slot].sem != NULL; slot++)
        ;
    if (slot == ANON_MAX) {
        pthread_mutex_unlock(&anon_lock);
        errno = ENOENT;
        return SEM_FAILED;
    }
    sem = mmap(NULL, sizeof *sem, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sem == MAP_FAILED || sem_init(sem, 1, value) != 0) {
        pthread_mutex_unlock(&anon_lock);
        errno = ENOENT;
        return SEM_FAILED;
    }
    anon[slot].sem = sem;
    anon[slot].linked = 1;
    strcpy(anon[slot].name, name);
    pthread_mutex_unlock(&anon_lock);
    return sem;
}

int __wrap_sem_unlink(const char *name)
{
    pthread_mutex_lock(&anon_lock);
    int slot = find(name, NULL);
    if (slot >= 0)
        anon[slot].linked = 0;
    pthread_mutex_unlock(&anon_lock);
    return slot >= 0 ? 0 : __real_sem_unlink(name);
}

int __wrap_sem_close(sem_t *sem)
{
    pthread_mutex_lock(&anon_lock);
    int slot = find(NULL, sem);
    if (slot >= 0)
        anon[slot].sem = NULL;
    pthread_mutex_unlock(&anon_lock);
    if (slot < 0)
        return __real_sem_close(sem);
    return munmap(sem, sizeof *sem);
}
