// The libhdf5 reader process (see CHDF5.h). Everything here runs in the forked child.
#include "CHDF5.h"

#if __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#else
#include <hdf5.h>
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

// MARK: Socket I/O (the child exits when the parent is gone)

static int child_fd = -1;

static void put(const void *data, size_t size) {
    const uint8_t *p = (const uint8_t *)data;
    while (size > 0) {
        ssize_t n = send(child_fd, p, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) _exit(0);
        p += n;
        size -= (size_t)n;
    }
}

static void put_i32(int32_t v) { put(&v, sizeof v); }
static void put_u32(uint32_t v) { put(&v, sizeof v); }

static int get(void *data, size_t size) {
    uint8_t *p = (uint8_t *)data;
    while (size > 0) {
        ssize_t n = recv(child_fd, p, size, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        size -= (size_t)n;
    }
    return 0;
}

/// Reads a length-prefixed string (at most 1 MiB) into a NUL-terminated malloc'd buffer.
static char *get_string(void) {
    uint32_t length;
    if (get(&length, sizeof length) < 0 || length > (1u << 20)) return NULL;
    char *s = (char *)malloc((size_t)length + 1);
    if (!s) return NULL;
    if (get(s, length) < 0) { free(s); return NULL; }
    s[length] = 0;
    return s;
}

// MARK: Errors

/// The innermost message of HDF5's error stack (where the failure was detected).
typedef struct { char text[400]; int found; } error_text;

static herr_t walk_error(unsigned n, const H5E_error2_t *err, void *data) {
    (void)n;
    error_text *t = (error_text *)data;
    if (t->found || err == NULL) return 0;
    char minor[160] = {0};
    if (H5Eget_msg(err->min_num, NULL, minor, sizeof minor) < 0) minor[0] = 0;
    const char *desc = err->desc ? err->desc : "";
    if (desc[0] && minor[0]) snprintf(t->text, sizeof t->text, "%s (%s)", desc, minor);
    else snprintf(t->text, sizeof t->text, "%s", desc[0] ? desc : minor);
    t->found = t->text[0] != 0;
    return 0;
}

/// Sends status -1 and "`what`: <HDF5's message>" (or just `what`).
static void put_error(const char *what, int with_hdf5_message) {
    char message[640];
    error_text t;
    memset(&t, 0, sizeof t);
    if (with_hdf5_message) H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_error, &t);
    H5Eclear2(H5E_DEFAULT);
    if (t.found) snprintf(message, sizeof message, "%s: %s", what, t.text);
    else snprintf(message, sizeof message, "%s", what);
    put_i32(-1);
    put_u32((uint32_t)strlen(message));
    put(message, strlen(message));
}

static const char *class_name(H5T_class_t c) {
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "floating-point";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ENUM: return "enum";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    case H5T_REFERENCE: return "reference";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    default: return "unknown";
    }
}

// MARK: Requests

/// Whether every link along `path` exists (HDF5 fails, rather than answers no, when an
/// intermediate group is missing).
static int path_exists(hid_t file, const char *path) {
    char *copy = strdup(path);
    if (!copy) return 0;
    size_t n = strlen(copy);
    int ok = 1;
    for (size_t i = 1; i <= n && ok; i++) {
        if (copy[i] == '/' || copy[i] == 0) {
            char saved = copy[i];
            copy[i] = 0;
            if (strcmp(copy, "/") != 0 && copy[i - 1] != '/') {
                htri_t r = H5Lexists(file, copy, H5P_DEFAULT);
                if (r <= 0) ok = 0;
            }
            copy[i] = saved;
        }
    }
    free(copy);
    H5Eclear2(H5E_DEFAULT);
    return ok;
}

static void op_exists(hid_t file, const char *path) {
    put_i32(path_exists(file, path) ? 1 : 0);
}

static void op_is_group(hid_t file, const char *path) {
    int result = 0;
    if (path_exists(file, path)) {
        hid_t obj = H5Oopen(file, path, H5P_DEFAULT);
        if (obj >= 0) {
            result = H5Iget_type(obj) == H5I_GROUP;
            H5Oclose(obj);
        }
    }
    H5Eclear2(H5E_DEFAULT);
    put_i32(result);
}

static void op_strings(hid_t file, const char *path, const char *name) {
    hid_t obj = H5Oopen(file, path, H5P_DEFAULT);
    if (obj < 0) { put_error("cannot open the object", 1); return; }
    htri_t present = H5Aexists(obj, name);
    if (present <= 0) {
        H5Oclose(obj);
        if (present < 0) { put_error("cannot look up the attribute", 1); return; }
        H5Eclear2(H5E_DEFAULT);
        put_i32(0);
        return;
    }
    hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t type = attr >= 0 ? H5Aget_type(attr) : -1;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : -1;
    hid_t mem = -1;
    char **pointers = NULL;
    uint8_t *bytes = NULL;
    char message[200];
    if (attr < 0 || type < 0 || space < 0) { put_error("cannot open the attribute", 1); goto done; }
    hssize_t points = H5Sget_simple_extent_npoints(space);
    if (points < 0 || points > (1 << 24)) {
        snprintf(message, sizeof message, "has an invalid number of elements (%lld)", (long long)points);
        put_error(message, 0);
        goto done;
    }
    size_t count = (size_t)points;
    H5T_class_t cls = H5Tget_class(type);
    if (count == 0) { put_i32(1); put_u32(0); goto done; } // h5py writes [] as an empty float64 array
    if (cls != H5T_STRING) {
        snprintf(message, sizeof message, "should hold strings but holds %s values", class_name(cls));
        put_error(message, 0);
        goto done;
    }
    mem = H5Tcopy(H5T_C_S1);
    if (mem < 0) { put_error("HDF5 type error", 1); goto done; }
    H5Tset_cset(mem, H5Tget_cset(type));
    if (H5Tis_variable_str(type) > 0) {
        H5Tset_size(mem, H5T_VARIABLE);
        pointers = (char **)calloc(count, sizeof(char *));
        if (!pointers) { put_error("out of memory", 0); goto done; }
        if (H5Aread(attr, mem, pointers) < 0) { put_error("cannot read the attribute", 1); goto done; }
        put_i32(1);
        put_u32((uint32_t)count);
        for (size_t i = 0; i < count; i++) {
            size_t length = pointers[i] ? strlen(pointers[i]) : 0;
            put_u32((uint32_t)length);
            if (length) put(pointers[i], length);
        }
        for (size_t i = 0; i < count; i++) if (pointers[i]) H5free_memory(pointers[i]);
    } else {
        size_t size = H5Tget_size(type);
        if (size == 0 || size > (1 << 26) || count * size > (1u << 28)) {
            snprintf(message, sizeof message, "has strings of an invalid size (%zu bytes x %zu)", size, count);
            put_error(message, 0);
            goto done;
        }
        H5Tset_size(mem, size);
        H5Tset_strpad(mem, H5T_STR_NULLPAD);
        bytes = (uint8_t *)calloc(count, size);
        if (!bytes) { put_error("out of memory", 0); goto done; }
        if (H5Aread(attr, mem, bytes) < 0) { put_error("cannot read the attribute", 1); goto done; }
        put_i32(1);
        put_u32((uint32_t)count);
        for (size_t i = 0; i < count; i++) {
            const uint8_t *s = bytes + i * size;
            size_t length = 0;
            while (length < size && s[length] != 0) length++;
            put_u32((uint32_t)length);
            if (length) put(s, length);
        }
    }
done:
    free(pointers);
    free(bytes);
    if (mem >= 0) H5Tclose(mem);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    H5Oclose(obj);
    H5Eclear2(H5E_DEFAULT);
}

static void op_floats(hid_t file, const char *path) {
    hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
    if (ds < 0) { put_error("cannot be opened", 1); return; }
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    float *values = NULL;
    char message[240];
    if (type < 0 || space < 0) { put_error("cannot be read (type or shape)", 1); goto done; }
    H5T_class_t cls = H5Tget_class(type);
    size_t element = H5Tget_size(type);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        snprintf(message, sizeof message, "holds %s values, not numbers", class_name(cls));
        put_error(message, 0);
        goto done;
    }
    int rank = H5Sget_simple_extent_ndims(space);
    if (rank < 0 || rank > 32) {
        snprintf(message, sizeof message, "has an invalid rank (%d)", rank);
        put_error(message, 0);
        goto done;
    }
    hsize_t dims[32];
    if (rank > 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0) { put_error("cannot be read (shape)", 1); goto done; }
    unsigned long long count = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > CAM_H5_MAX_ELEMENTS || (dims[i] > 0 && count > CAM_H5_MAX_ELEMENTS / dims[i])) {
            snprintf(message, sizeof message, "has more than %llu elements", (unsigned long long)CAM_H5_MAX_ELEMENTS);
            put_error(message, 0);
            goto done;
        }
        count *= dims[i];
    }
    // A contiguous dataset's bytes must be in the file (a truncated file fails here, not in a read).
    hid_t plist = H5Dget_create_plist(ds);
    H5D_layout_t layout = plist >= 0 ? H5Pget_layout(plist) : H5D_LAYOUT_ERROR;
    if (plist >= 0) H5Pclose(plist);
    if (layout == H5D_CONTIGUOUS && count > 0) {
        hsize_t stored = H5Dget_storage_size(ds);
        if (stored < count * element) {
            snprintf(message, sizeof message, "needs %llu bytes but the file stores %llu",
                     count * (unsigned long long)element, (unsigned long long)stored);
            put_error(message, 0);
            goto done;
        }
    }
    if (count > 0) {
        values = (float *)malloc((size_t)count * sizeof(float));
        if (!values) { put_error("does not fit in memory", 0); goto done; }
        if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
            put_error("cannot be read (truncated or damaged file?)", 1);
            goto done;
        }
    }
    put_i32(1);
    put_u32((uint32_t)rank);
    for (int i = 0; i < rank; i++) { uint64_t d = dims[i]; put(&d, sizeof d); }
    if (count > 0) put(values, (size_t)count * sizeof(float));
done:
    free(values);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    H5Dclose(ds);
    H5Eclear2(H5E_DEFAULT);
}

// MARK: The child

static void serve(const char *path) {
    // A crash must end this process quietly: no inherited crash handlers (the Swift runtime's
    // backtracer would run in here), and HDF5 prints nothing.
    int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) signal(crash_signals[i], SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    if (H5open() < 0) { put_error("libhdf5 failed to initialise", 0); _exit(0); }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    htri_t is_hdf5 = H5Fis_hdf5(path);
    if (is_hdf5 == 0) {
        put_i32(CAM_H5_NOT_HDF5);
        put_u32(0);
        _exit(0);
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    hid_t file = is_hdf5 > 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT) : -1;
    if (file < 0) { put_error("cannot open the HDF5 file (truncated or damaged?)", 1); _exit(0); }
    put_i32(1);

    for (;;) {
        uint32_t op;
        if (get(&op, sizeof op) < 0) _exit(0);
        char *a = get_string();
        char *b = a ? get_string() : NULL;
        if (!a || !b) _exit(0);
        switch (op) {
        case CAM_H5_OP_EXISTS: op_exists(file, a); break;
        case CAM_H5_OP_IS_GROUP: op_is_group(file, a); break;
        case CAM_H5_OP_STRINGS: op_strings(file, a, b); break;
        case CAM_H5_OP_FLOATS: op_floats(file, a); break;
        default: put_error("unknown request", 0); break;
        }
        free(a);
        free(b);
    }
}

/* Present when the process runs under a sanitizer (fuzzing, testing). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* The reader dies by its own signal if libhdf5 crashes: undo handlers inherited from the
   parent (a fuzzer's crash handler, a backtracer), so only the parent reacts, by reporting. */
static void reset_crash_handling(void) {
    const int signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) signal(signals[i], SIG_DFL);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(0);
}

int cam_h5_spawn(const char *path, pid_t *pid, int *socket_fd) {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return -1;
    // Copy the path before forking: the child must not touch the parent's Swift objects.
    char *copy = strdup(path);
    if (!copy) { close(fds[0]); close(fds[1]); return -1; }
    const pid_t parent = getpid();
    pid_t child = fork();
    if (child < 0) {
        int saved = errno;
        free(copy);
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    if (child == 0) {
        // The reader dies with its parent: a libhdf5 stuck in a loop must not outlive a
        // swiftcam that was killed (or that gave up on it) and spin on its own.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1);
        reset_crash_handling();
        close(fds[0]);
        child_fd = fds[1];
        serve(copy);
        _exit(0);
    }
    free(copy);
    close(fds[1]);
    *pid = child;
    *socket_fd = fds[0];
    return 0;
}
