/* api.kernel.pgcopy.fields in C: batch issuing encodes some twenty fields a row, thousands of rows a second.
 * The Python form in api/kernel/pgcopy.py makes the same bytes (tests compare the two) and serves where this
 * module was not built. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const char *
field_data(PyObject *value, Py_ssize_t *size)
{
    if (PyBytes_CheckExact(value)) {
        *size = PyBytes_GET_SIZE(value);
        return PyBytes_AS_STRING(value);
    }
    if (PyUnicode_Check(value)) {
        return PyUnicode_AsUTF8AndSize(value, size);
    }
    PyErr_Format(PyExc_TypeError, "a field is bytes, str or None, not %.100s", Py_TYPE(value)->tp_name);
    return NULL;
}

static PyObject *
fields(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t total = 0, size;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (args[i] == Py_None) {
            total += 4;
            continue;
        }
        if (field_data(args[i], &size) == NULL) {
            return NULL;
        }
        if (size > INT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "a field is at most 2 GB");
            return NULL;
        }
        total += 4 + size;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (out == NULL) {
        return NULL;
    }
    unsigned char *p = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < nargs; i++) {
        if (args[i] == Py_None) {  /* NULL: length -1 */
            memset(p, 0xFF, 4);
            p += 4;
            continue;
        }
        const char *data = field_data(args[i], &size);  /* cannot fail: checked above */
        p[0] = (unsigned char)(size >> 24);
        p[1] = (unsigned char)(size >> 16);
        p[2] = (unsigned char)(size >> 8);
        p[3] = (unsigned char)size;
        memcpy(p + 4, data, size);
        p += 4 + size;
    }
    return out;
}

static PyMethodDef methods[] = {
    {"fields", (PyCFunction)(void (*)(void))fields, METH_FASTCALL,
     "Binary COPY fields of bytes, str (UTF-8) or None (NULL) values, joined."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "api._pgcopy",
    .m_doc = "Binary COPY fields in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__pgcopy(void)
{
    return PyModule_Create(&module);
}
