/* RFC 9285 Base45 in C: esign.codec.tokens.b45encode, for the thousands of tokens a second batch issuing
 * makes. The Python form in esign/codec/tokens.py writes the same text (tests compare the two) and serves
 * where this module was not built. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

static PyObject *
b45encode(PyObject *Py_UNUSED(module), PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const unsigned char *in = view.buf;
    Py_ssize_t n = view.len;
    /* Three characters a pair of bytes, two for a last single byte. */
    PyObject *text = PyUnicode_New(n / 2 * 3 + n % 2 * 2, 127);
    if (text == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t i = 0;
    for (; i + 1 < n; i += 2) {
        unsigned int value = (unsigned int)in[i] << 8 | in[i + 1];
        out[0] = ALPHABET[value % 45];
        out[1] = ALPHABET[value / 45 % 45];
        out[2] = ALPHABET[value / 2025];
        out += 3;
    }
    if (i < n) {
        out[0] = ALPHABET[in[i] % 45];
        out[1] = ALPHABET[in[i] / 45];
    }
    PyBuffer_Release(&view);
    return text;
}

static PyMethodDef methods[] = {
    {"b45encode", b45encode, METH_O, "RFC 9285 Base45 text of a bytes-like object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "esign.codec._b45",
    .m_doc = "RFC 9285 Base45 encoding in C.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__b45(void)
{
    return PyModule_Create(&module);
}
