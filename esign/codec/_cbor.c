/* Canonical CBOR in C for certificate tokens: esign.codec.cose.canonical and esign.codec.tokens' claims payload,
 * for the thousands of tokens a second batch issuing makes. The Python forms write the same bytes
 * (tests compare the three: C, Python and cbor2) and serve where this module was not built, and for
 * what it leaves to them: values other than str, int (64-bit heads), bytes, None, bool, list, tuple
 * and dict give None here, and the caller encodes them in Python. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char *data;
    Py_ssize_t size, capacity;
} Buffer;

/* 1: written; 0: a value this module leaves to Python; -1: a Python error is set. */
#define DONE 1
#define UNSUPPORTED 0
#define FAILED -1

static int
reserve(Buffer *b, Py_ssize_t more)
{
    if (b->size + more <= b->capacity) {
        return DONE;
    }
    Py_ssize_t capacity = b->capacity ? b->capacity : 256;
    while (capacity < b->size + more) {
        capacity *= 2;
    }
    unsigned char *data = PyMem_Realloc(b->data, capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    b->data = data;
    b->capacity = capacity;
    return DONE;
}

static int
put(Buffer *b, const void *data, Py_ssize_t size)
{
    if (reserve(b, size) < 0) {
        return FAILED;
    }
    memcpy(b->data + b->size, data, size);
    b->size += size;
    return DONE;
}

/* A head of major type `major` with argument `n`, shortest form (RFC 8949 3.1). */
static int
head(Buffer *b, unsigned int major, uint64_t n)
{
    unsigned char out[9];
    int size;
    major <<= 5;
    if (n < 24) {
        out[0] = (unsigned char)(major | n);
        size = 1;
    } else if (n < 0x100) {
        out[0] = (unsigned char)(major | 24);
        out[1] = (unsigned char)n;
        size = 2;
    } else if (n < 0x10000) {
        out[0] = (unsigned char)(major | 25);
        out[1] = (unsigned char)(n >> 8);
        out[2] = (unsigned char)n;
        size = 3;
    } else if (n < 0x100000000ULL) {
        out[0] = (unsigned char)(major | 26);
        for (int i = 0; i < 4; i++) {
            out[1 + i] = (unsigned char)(n >> (24 - 8 * i));
        }
        size = 5;
    } else {
        out[0] = (unsigned char)(major | 27);
        for (int i = 0; i < 8; i++) {
            out[1 + i] = (unsigned char)(n >> (56 - 8 * i));
        }
        size = 9;
    }
    return put(b, out, size);
}

static int
text(Buffer *b, PyObject *value)
{
    Py_ssize_t size;
    const char *data = PyUnicode_AsUTF8AndSize(value, &size);
    if (data == NULL || head(b, 3, (uint64_t)size) < 0) {
        return FAILED;
    }
    return put(b, data, size);
}

static int encode(Buffer *b, PyObject *value);

static int
integer(Buffer *b, PyObject *value)
{
    int overflow;
    long long small = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (small == -1 && PyErr_Occurred()) {
        return FAILED;
    }
    if (!overflow) {
        return small >= 0 ? head(b, 0, (uint64_t)small) : head(b, 1, (uint64_t)(-1 - small));
    }
    /* Beyond 63 bits: the head takes 64, from -2**64 to 2**64 - 1; further out is Python's. */
    PyObject *magnitude = overflow > 0 ? Py_NewRef(value) : PyNumber_Invert(value);  /* -1 - value */
    if (magnitude == NULL) {
        return FAILED;
    }
    unsigned long long n = PyLong_AsUnsignedLongLong(magnitude);
    Py_DECREF(magnitude);
    if (n == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return FAILED;
        }
        PyErr_Clear();
        return UNSUPPORTED;
    }
    return head(b, overflow > 0 ? 0 : 1, n);
}

typedef struct {
    Py_ssize_t key_at, key_size, end;  /* offsets in the entries' buffer */
    const unsigned char *key;  /* set once the buffer stops moving */
} Entry;

static int
by_encoded_key(const void *left, const void *right)
{
    const Entry *a = left, *b = right;
    if (a->key_size != b->key_size) {
        return a->key_size < b->key_size ? -1 : 1;
    }
    return memcmp(a->key, b->key, a->key_size);
}

/* RFC 7049 canonical order: shorter encoded keys first, then bytewise. */
static int
map(Buffer *b, PyObject *value)
{
    Py_ssize_t count = PyDict_GET_SIZE(value), pos = 0, i = 0;
    PyObject *k, *v;
    Buffer entries = {NULL, 0, 0};
    Entry *index = PyMem_Calloc(count ? count : 1, sizeof(Entry));
    int result = FAILED;
    if (index == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    while (PyDict_Next(value, &pos, &k, &v)) {
        index[i].key_at = entries.size;
        if ((result = encode(&entries, k)) != DONE) {
            goto out;
        }
        index[i].key_size = entries.size - index[i].key_at;
        if ((result = encode(&entries, v)) != DONE) {
            goto out;
        }
        index[i].end = entries.size;
        i++;
    }
    for (i = 0; i < count; i++) {
        index[i].key = entries.data + index[i].key_at;
    }
    qsort(index, count, sizeof(Entry), by_encoded_key);
    if ((result = head(b, 5, (uint64_t)count)) != DONE || (result = reserve(b, entries.size)) != DONE) {
        goto out;
    }
    for (i = 0; i < count; i++) {
        put(b, entries.data + index[i].key_at, index[i].end - index[i].key_at);
    }
    result = DONE;
out:
    PyMem_Free(index);
    PyMem_Free(entries.data);
    return result;
}

static int
encode(Buffer *b, PyObject *value)
{
    PyTypeObject *type = Py_TYPE(value);
    if (type == &PyUnicode_Type) {
        return text(b, value);
    }
    if (type == &PyLong_Type) {
        return integer(b, value);
    }
    if (type == &PyBytes_Type) {
        if (head(b, 2, (uint64_t)PyBytes_GET_SIZE(value)) < 0) {
            return FAILED;
        }
        return put(b, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value));
    }
    if (value == Py_None) {
        return put(b, "\xf6", 1);
    }
    if (type == &PyBool_Type) {
        return put(b, value == Py_True ? "\xf5" : "\xf4", 1);
    }
    if (type == &PyList_Type || type == &PyTuple_Type) {
        PyObject *items = PySequence_Fast(value, "");  /* a new reference to the same list or tuple */
        if (items == NULL) {
            return FAILED;
        }
        Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
        int result = head(b, 4, (uint64_t)count);
        if (result == DONE && Py_EnterRecursiveCall(" in canonical CBOR")) {
            result = FAILED;
        } else if (result == DONE) {
            for (Py_ssize_t i = 0; i < count && result == DONE; i++) {
                result = encode(b, PySequence_Fast_GET_ITEM(items, i));
            }
            Py_LeaveRecursiveCall();
        }
        Py_DECREF(items);
        return result;
    }
    if (type == &PyDict_Type) {
        if (Py_EnterRecursiveCall(" in canonical CBOR")) {
            return FAILED;
        }
        int result = map(b, value);
        Py_LeaveRecursiveCall();
        return result;
    }
    return UNSUPPORTED;
}

static PyObject *
finish(Buffer *b, int result)
{
    PyObject *out = NULL;
    if (result == DONE) {
        out = PyBytes_FromStringAndSize((const char *)b->data, b->size);
    } else if (result == UNSUPPORTED) {
        out = Py_NewRef(Py_None);
    }
    PyMem_Free(b->data);
    return out;
}

static PyObject *
canonical(PyObject *Py_UNUSED(module), PyObject *value)
{
    Buffer b = {NULL, 0, 0};
    return finish(&b, encode(&b, value));
}

/* A map entry whose key is already encoded. */
static int
entry(Buffer *b, const char *encoded_key, Py_ssize_t size, PyObject *value)
{
    int result = put(b, encoded_key, size);
    return result == DONE ? encode(b, value) : result;
}

/* esign.codec.tokens.compact_text: a text field value as GB 18030 bytes where that is shorter than UTF-8. A new
 * reference to the value itself, or to its bytes. */
static PyObject *
compact_text(PyObject *value)
{
    if (!PyUnicode_CheckExact(value) || PyUnicode_IS_ASCII(value)) {
        return Py_NewRef(value);
    }
    Py_ssize_t utf8_size;
    if (PyUnicode_AsUTF8AndSize(value, &utf8_size) == NULL) {
        return NULL;
    }
    PyObject *gb = PyUnicode_AsEncodedString(value, "gb18030", "strict");
    if (gb == NULL) {
        return NULL;
    }
    if (PyBytes_GET_SIZE(gb) < utf8_size) {
        return gb;
    }
    Py_DECREF(gb);
    return Py_NewRef(value);
}

/* The "f" map of a token: each value through compact_text (keys are the field numbers). */
static int
fields_entry(Buffer *b, PyObject *fields)
{
    if (!PyDict_CheckExact(fields)) {
        return UNSUPPORTED;
    }
    PyObject *wire = PyDict_New(), *k, *v;
    Py_ssize_t pos = 0;
    if (wire == NULL) {
        return FAILED;
    }
    while (PyDict_Next(fields, &pos, &k, &v)) {
        PyObject *compact = compact_text(v);
        if (compact == NULL || PyDict_SetItem(wire, k, compact) < 0) {
            Py_XDECREF(compact);
            Py_DECREF(wire);
            return FAILED;
        }
        Py_DECREF(compact);
    }
    int result = put(b, "\x61" "f", 2);
    if (result == DONE) {
        result = encode(b, wire);
    }
    Py_DECREF(wire);
    return result;
}

/* esign.codec.tokens._payload: the claims map with the certificate map under -65537, keys in canonical
 * order (1, 4, 5, 6, 7, -65537; d, f, h, l, n, p, s, t, v, hi). Arguments as _payload's, checked by
 * its caller, except that exp, nbf and nonce may be None. */
static PyObject *
payload(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 15) {
        PyErr_SetString(PyExc_TypeError, "payload takes 15 arguments");
        return NULL;
    }
    PyObject *kind = args[0], *iss = args[1], *iat = args[2], *exp = args[3], *nbf = args[4], *cti = args[5],
             *type_code = args[6], *serial = args[7], *version = args[8], *holder_name = args[9],
             *holder_id = args[10], *fields = args[11], *status = args[12], *digest = args[13], *nonce = args[14];
    if (!PyTuple_CheckExact(status) || PyTuple_GET_SIZE(status) != 2) {
        PyErr_SetString(PyExc_TypeError, "status is a (list id, index) tuple");
        return NULL;
    }
    Buffer b = {NULL, 0, 0};
    int r = head(&b, 5, 4 + (exp != Py_None) + (nbf != Py_None));
#define STEP(call) if (r == DONE) r = (call)
#define ENTRY(key, value) STEP(entry(&b, key, sizeof(key) - 1, value))
    ENTRY("\x01", iss);
    if (exp != Py_None) {
        ENTRY("\x04", exp);
    }
    if (nbf != Py_None) {
        ENTRY("\x05", nbf);
    }
    ENTRY("\x06", iat);
    ENTRY("\x07", cti);
    STEP(head(&b, 1, 65536));  /* -65537 */
    STEP(head(&b, 5, nonce == Py_None ? 9 : 10));
    ENTRY("\x61" "d", digest);
    STEP(fields_entry(&b, fields));
    ENTRY("\x61" "h", holder_name);
    ENTRY("\x61" "l" "\x82", serial);  /* [serial, version] */
    STEP(encode(&b, version));
    if (nonce != Py_None) {
        ENTRY("\x61" "n", nonce);
    }
    ENTRY("\x61" "p", kind);
    ENTRY("\x61" "s", status);
    ENTRY("\x61" "t", type_code);
    STEP(put(&b, "\x61" "v" "\x02", 3));
    ENTRY("\x62" "hi", holder_id);
#undef ENTRY
#undef STEP
    return finish(&b, r);
}

static PyMethodDef methods[] = {
    {"canonical", canonical, METH_O, "Canonical CBOR of a value, or None for one left to Python."},
    {"payload", (PyCFunction)(void (*)(void))payload, METH_FASTCALL,
     "The claims payload of esign.codec.tokens._payload, or None for fields left to Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "esign.codec._cbor",
    .m_doc = "Canonical CBOR for certificate tokens, in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__cbor(void)
{
    return PyModule_Create(&module);
}
