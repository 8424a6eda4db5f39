"""Prints where `make install-python` puts the tasd package for PREFIX
(argv[1]): the interpreter's own module directory under PREFIX when it has
one (Debian: PREFIX/lib/python3.X/dist-packages), else the standard
PREFIX/lib/python3.X/site-packages."""
import sys
import sysconfig

prefix = sys.argv[1].rstrip("/") or "/"
for d in sys.path:
    if d.startswith(prefix + "/lib/python") and d.endswith("-packages"):
        print(d)
        break
else:
    print(sysconfig.get_path("purelib", "posix_prefix", vars={"base": prefix, "platbase": prefix}))
