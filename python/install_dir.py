"""Where `make install-python` puts the tasd package, and whether the
interpreter running this script can then import it.

    install_dir.py PREFIX
prints the interpreter's own module directory under PREFIX when it has one
(Debian: PREFIX/lib/python3.X/dist-packages), else the standard
PREFIX/lib/python3.X/site-packages.

    install_dir.py --check DIR [--staged]
fails (exit 1) when this interpreter cannot import numpy, and warns loudly
when DIR is not one of the directories it imports from, saying what to do
either way. --staged (a DESTDIR install, for another machine) makes the
numpy failure a warning too."""
import os
import site
import sys
import sysconfig


def module_dirs():
    """The directories this interpreter imports packages from, existing yet
    or not (sys.path holds only existing ones)."""
    dirs = [d for d in sys.path if d.endswith("-packages")] + site.getsitepackages()
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return dirs


def install_dir(prefix):
    prefix = prefix.rstrip("/") or "/"
    for d in module_dirs():
        if d.startswith(prefix + "/lib/python"):
            return d
    return sysconfig.get_path("purelib", "posix_prefix", vars={"base": prefix, "platbase": prefix})


def loud(lines):
    bar = "*" * 72
    sys.stderr.write("\n".join([bar] + lines + [bar]) + "\n")


def check(target, staged):
    py = sys.executable
    ok = True
    try:
        import numpy  # noqa: F401
    except ImportError:
        loud(["install-python: %s cannot import numpy, which the tasd module needs." % py,
              "Install it (Debian: apt-get install python3-numpy, for /usr/bin/python3),",
              "or pick an interpreter that has it: make install-python PYTHON=/usr/bin/python3"])
        ok = staged
    real = os.path.realpath
    if real(target) not in {real(d) for d in module_dirs()}:
        loud(["install-python: WARNING: %s does not import from" % py, "    " + target,
              "so `import tasd` will not find the module there. Either pick the interpreter",
              "you will use (make install-python PYTHON=/usr/bin/python3), install into one of",
              "its directories (PYTHONDIR=%s)," % module_dirs()[0],
              "or add that directory to PYTHONPATH."])
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        sys.exit(check(sys.argv[2], "--staged" in sys.argv[3:]))
    print(install_dir(sys.argv[1]))
