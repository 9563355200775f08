/* The C library's messages in glibc's words: strerror (and strerror_l), gai_strerror and
 * strsignal in place of musl's, whose wording differs for 72 of glibc's 132 error texts ("I/O
 * error" for "Input/output error", "Not a tty" for "Inappropriate ioctl for device"), for every
 * number without one ("No error information" for "Unknown error 41"), for getaddrinfo's errors
 * ("Name does not resolve" for "Name or service not known") and for some signals. Python
 * shows these words in each OSError made from errno, in socket.gaierror and in signal.strsignal:
 * python3 on a Linux distribution shows glibc's, and so does the binary. (hstrerror, behind
 * socket.herror from gethostbyaddr, is still musl's.)
 *
 * The texts are glibc 2.36's (Debian 12), for the error numbers Linux gives x86_64 and aarch64
 * alike; a number without a text is "Unknown error N", as in glibc. Defining these symbols here
 * keeps musl's own objects for them out of the link (nothing else is in those objects). The
 * messages are not translated: the binary carries no message catalogues, and glibc's English is
 * what python3 shows without them (LANG=C, C.UTF-8). */
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static const char *const errno_texts[] = {
    [0] = "Success",
    [1] = "Operation not permitted",
    [2] = "No such file or directory",
    [3] = "No such process",
    [4] = "Interrupted system call",
    [5] = "Input/output error",
    [6] = "No such device or address",
    [7] = "Argument list too long",
    [8] = "Exec format error",
    [9] = "Bad file descriptor",
    [10] = "No child processes",
    [11] = "Resource temporarily unavailable",
    [12] = "Cannot allocate memory",
    [13] = "Permission denied",
    [14] = "Bad address",
    [15] = "Block device required",
    [16] = "Device or resource busy",
    [17] = "File exists",
    [18] = "Invalid cross-device link",
    [19] = "No such device",
    [20] = "Not a directory",
    [21] = "Is a directory",
    [22] = "Invalid argument",
    [23] = "Too many open files in system",
    [24] = "Too many open files",
    [25] = "Inappropriate ioctl for device",
    [26] = "Text file busy",
    [27] = "File too large",
    [28] = "No space left on device",
    [29] = "Illegal seek",
    [30] = "Read-only file system",
    [31] = "Too many links",
    [32] = "Broken pipe",
    [33] = "Numerical argument out of domain",
    [34] = "Numerical result out of range",
    [35] = "Resource deadlock avoided",
    [36] = "File name too long",
    [37] = "No locks available",
    [38] = "Function not implemented",
    [39] = "Directory not empty",
    [40] = "Too many levels of symbolic links",
    [42] = "No message of desired type",
    [43] = "Identifier removed",
    [44] = "Channel number out of range",
    [45] = "Level 2 not synchronized",
    [46] = "Level 3 halted",
    [47] = "Level 3 reset",
    [48] = "Link number out of range",
    [49] = "Protocol driver not attached",
    [50] = "No CSI structure available",
    [51] = "Level 2 halted",
    [52] = "Invalid exchange",
    [53] = "Invalid request descriptor",
    [54] = "Exchange full",
    [55] = "No anode",
    [56] = "Invalid request code",
    [57] = "Invalid slot",
    [59] = "Bad font file format",
    [60] = "Device not a stream",
    [61] = "No data available",
    [62] = "Timer expired",
    [63] = "Out of streams resources",
    [64] = "Machine is not on the network",
    [65] = "Package not installed",
    [66] = "Object is remote",
    [67] = "Link has been severed",
    [68] = "Advertise error",
    [69] = "Srmount error",
    [70] = "Communication error on send",
    [71] = "Protocol error",
    [72] = "Multihop attempted",
    [73] = "RFS specific error",
    [74] = "Bad message",
    [75] = "Value too large for defined data type",
    [76] = "Name not unique on network",
    [77] = "File descriptor in bad state",
    [78] = "Remote address changed",
    [79] = "Can not access a needed shared library",
    [80] = "Accessing a corrupted shared library",
    [81] = ".lib section in a.out corrupted",
    [82] = "Attempting to link in too many shared libraries",
    [83] = "Cannot exec a shared library directly",
    [84] = "Invalid or incomplete multibyte or wide character",
    [85] = "Interrupted system call should be restarted",
    [86] = "Streams pipe error",
    [87] = "Too many users",
    [88] = "Socket operation on non-socket",
    [89] = "Destination address required",
    [90] = "Message too long",
    [91] = "Protocol wrong type for socket",
    [92] = "Protocol not available",
    [93] = "Protocol not supported",
    [94] = "Socket type not supported",
    [95] = "Operation not supported",
    [96] = "Protocol family not supported",
    [97] = "Address family not supported by protocol",
    [98] = "Address already in use",
    [99] = "Cannot assign requested address",
    [100] = "Network is down",
    [101] = "Network is unreachable",
    [102] = "Network dropped connection on reset",
    [103] = "Software caused connection abort",
    [104] = "Connection reset by peer",
    [105] = "No buffer space available",
    [106] = "Transport endpoint is already connected",
    [107] = "Transport endpoint is not connected",
    [108] = "Cannot send after transport endpoint shutdown",
    [109] = "Too many references: cannot splice",
    [110] = "Connection timed out",
    [111] = "Connection refused",
    [112] = "Host is down",
    [113] = "No route to host",
    [114] = "Operation already in progress",
    [115] = "Operation now in progress",
    [116] = "Stale file handle",
    [117] = "Structure needs cleaning",
    [118] = "Not a XENIX named type file",
    [119] = "No XENIX semaphores available",
    [120] = "Is a named type file",
    [121] = "Remote I/O error",
    [122] = "Disk quota exceeded",
    [123] = "No medium found",
    [124] = "Wrong medium type",
    [125] = "Operation canceled",
    [126] = "Required key not available",
    [127] = "Key has expired",
    [128] = "Key has been revoked",
    [129] = "Key was rejected by service",
    [130] = "Owner died",
    [131] = "State not recoverable",
    [132] = "Operation not possible due to RF-kill",
    [133] = "Memory page has hardware error",
};

/* Where strerror and strsignal write the text of a number they do not know: one buffer per
 * function and per thread, as glibc's. */
static _Thread_local char unknown_error[40], unknown_signal[40];

char *strerror(int e)
{
    if (e >= 0 && (size_t)e < sizeof errno_texts / sizeof *errno_texts && errno_texts[e])
        return (char *)errno_texts[e];
    snprintf(unknown_error, sizeof unknown_error, "Unknown error %d", e);
    return unknown_error;
}

char *__strerror_l(int e, locale_t loc)
{
    (void)loc;
    return strerror(e);
}

char *strerror_l(int e, locale_t loc)
{
    return __strerror_l(e, loc);
}

const char *gai_strerror(int code)
{
    switch (code) {
    case -1: return "Bad value for ai_flags";
    case -2: return "Name or service not known";
    case -3: return "Temporary failure in name resolution";
    case -4: return "Non-recoverable failure in name resolution";
    case -5: return "No address associated with hostname";
    case -6: return "ai_family not supported";
    case -7: return "ai_socktype not supported";
    case -8: return "Servname not supported for ai_socktype";
    case -9: return "Address family for hostname not supported";
    case -10: return "Memory allocation failure";
    case -11: return "System error";
    case -100: return "Processing request in progress";
    case -101: return "Request canceled";
    case -102: return "Request not canceled";
    case -103: return "All requests done";
    case -104: return "Interrupted by a signal";
    case -105: return "Parameter string not correctly encoded";
    default:
        return "Unknown error";
    }
}

static const char *const signal_texts[] = {
    [1] = "Hangup",
    [2] = "Interrupt",
    [3] = "Quit",
    [4] = "Illegal instruction",
    [5] = "Trace/breakpoint trap",
    [6] = "Aborted",
    [7] = "Bus error",
    [8] = "Floating point exception",
    [9] = "Killed",
    [10] = "User defined signal 1",
    [11] = "Segmentation fault",
    [12] = "User defined signal 2",
    [13] = "Broken pipe",
    [14] = "Alarm clock",
    [15] = "Terminated",
    [16] = "Stack fault",
    [17] = "Child exited",
    [18] = "Continued",
    [19] = "Stopped (signal)",
    [20] = "Stopped",
    [21] = "Stopped (tty input)",
    [22] = "Stopped (tty output)",
    [23] = "Urgent I/O condition",
    [24] = "CPU time limit exceeded",
    [25] = "File size limit exceeded",
    [26] = "Virtual timer expired",
    [27] = "Profiling timer expired",
    [28] = "Window changed",
    [29] = "I/O possible",
    [30] = "Power failure",
    [31] = "Bad system call",
};

char *strsignal(int sig)
{
    if (sig > 0 && (size_t)sig < sizeof signal_texts / sizeof *signal_texts)
        return (char *)signal_texts[sig];
    if (sig >= SIGRTMIN && sig <= SIGRTMAX)
        snprintf(unknown_signal, sizeof unknown_signal, "Real-time signal %d", sig - SIGRTMIN);
    else
        snprintf(unknown_signal, sizeof unknown_signal, "Unknown signal %d", sig);
    return unknown_signal;
}
