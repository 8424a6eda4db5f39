"""The ctypes mirrors of public structs (python/tasd/_lib.py) match the
layout the C compiler gives the declarations in include/tasd.h: the header
is parsed here and laid out with the C rules (natural alignment, LP64), so
a field added to the header without the mirror fails this test."""
import ctypes
import os
import re
import unittest

from tasd import _lib

HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include", "tasd.h")
PTR = ctypes.sizeof(ctypes.c_void_p)
SIZES = {"double": 8, "float": 4, "int": 4, "int32_t": 4, "uint32_t": 4, "int64_t": 8,
         "uint64_t": 8, "uint8_t": 1, "int8_t": 1, "size_t": PTR, "char": 1, "int16_t": 2,
         "uint16_t": 2}


def parse_header():
    with open(HEADER) as f:
        text = f.read()
    macros = {m.group(1): int(m.group(2))
              for m in re.finditer(r"#define\s+(\w+)\s+(\d+)\b", text)}
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    structs = {}
    for m in re.finditer(r"typedef struct (\w+) \{(.*?)\} \1;", text, flags=re.S):
        if m.group(1) not in _lib.STRUCTS:
            continue
        fields = []
        for decl in m.group(2).split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            if "(" in decl:
                raise AssertionError("function pointer field in %s: %s" % (m.group(1), decl))
            words = decl.replace("*", " * ").split()
            base = [w for w in words if w not in ("const", "*")]
            # "type a, b[N]" -> base type then the declarators
            decl_part = decl[decl.index(base[0]) + len(base[0]):]
            for d in decl_part.split(","):
                d = d.strip()
                ptr = d.count("*") > 0
                d = d.replace("*", "").replace("const", "").strip()
                arr = 1
                am = re.match(r"(\w+)\s*\[(\w+)\]", d)
                if am:
                    d = am.group(1)
                    n = am.group(2)
                    arr = int(n) if n.isdigit() else macros[n]
                size = PTR if ptr else SIZES[base[0]]
                fields.append((d, size, arr))
        structs[m.group(1)] = fields
    return structs


def layout(fields):
    off, align, out = 0, 1, {}
    for name, size, arr in fields:
        off = (off + size - 1) // size * size
        out[name] = off
        off += size * arr
        align = max(align, size)
    return out, (off + align - 1) // align * align


class StructLayout(unittest.TestCase):
    def test_every_mirror_matches_the_header(self):
        structs = parse_header()
        for cname, cls in _lib.STRUCTS.items():
            with self.subTest(struct=cname):
                self.assertIn(cname, structs)
                offsets, size = layout(structs[cname])
                self.assertEqual(ctypes.sizeof(cls), size, "sizeof(%s)" % cname)
                self.assertEqual([f[0] for f in cls._fields_], [f[0] for f in structs[cname]],
                                 "fields of %s, in order" % cname)
                for name, off in offsets.items():
                    self.assertEqual(getattr(cls, name).offset, off, "%s.%s" % (cname, name))


if __name__ == "__main__":
    unittest.main()
