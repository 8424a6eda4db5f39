#!/usr/bin/env python3
"""An independent .tasd reader written from docs/format.md alone (plain Python,
no libtasd): validates a file and writes the dense approximation of one series
as a .npy (f32). Used by test_tool to check that the spec is complete.

usage: tasd_reader.py FILE.tasd SERIES_NAME OUT.npy"""
import struct
import sys
import zlib


def fail(msg):
    sys.exit("tasd_reader: " + msg)


def main():
    path, want, out = sys.argv[1], sys.argv[2], sys.argv[3]
    f = open(path, "rb").read()
    version, flags = struct.unpack_from("<II", f, 8)
    if f[:8] != b"TASDSER\0" or version not in (1, 2) or flags != 0:
        fail("bad header")
    t = f[-40:]
    if t[:8] != b"TASDDIR\0" or zlib.crc32(t[:36]) != struct.unpack_from("<I", t, 36)[0]:
        fail("bad trailer")
    doff, dsize, count, dcrc = struct.unpack_from("<QQQI", t, 8)
    if doff + dsize + 40 != len(f) or zlib.crc32(f[doff:doff + dsize]) != dcrc:
        fail("bad directory")
    pos = doff
    for _ in range(count):
        off, size, nl = struct.unpack_from("<QQI", f, pos)
        name = f[pos + 20:pos + 20 + nl].decode("utf-8")
        pos += 20 + nl
        rec = f[off:off + size]
        magic, hs, method, terms, rows, cols = struct.unpack_from("<4sIIIqq", rec, 0)
        if magic != b"TSR1" or zlib.crc32(rec[:hs - 4]) != struct.unpack_from("<I", rec, hs - 4)[0]:
            fail("bad record header for " + name)
        if name != want:
            continue
        dense = [0.0] * (rows * cols)
        for i in range(terms):
            n, m, bits, vt, voff, ioff, vcrc, icrc = struct.unpack_from("<IIIIQQII", rec, 64 + 48 * i)
            if vt not in ((0,) if version == 1 else (0, 1, 2)):
                fail("bad value type")
            width = (cols + m - 1) // m * n
            slots = rows * width
            vsize = 4 if vt == 0 else 2
            vals = rec[voff:voff + vsize * slots]
            idx = rec[ioff:ioff + (slots * bits + 7) // 8]
            if zlib.crc32(vals) != vcrc or zlib.crc32(idx) != icrc:
                fail("bad section checksum")
            if vt == 0:
                v = struct.unpack("<%df" % slots, vals)
            elif vt == 1:  # f16
                v = struct.unpack("<%de" % slots, vals)
            else:  # bf16: the top 16 bits of an f32
                v = [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                     for h in struct.unpack("<%dH" % slots, vals)]
            stream = int.from_bytes(idx, "little")
            for s in range(slots):
                ix = (stream >> (s * bits)) & (m - 1)
                r, j = divmod(s, width)
                col = (j // n) * m + ix
                if col >= cols:
                    fail("index outside the row")
                # f32 sums, like the library: round each addition to f32
                acc = dense[r * cols + col] + v[s]
                dense[r * cols + col] = struct.unpack("<f", struct.pack("<f", acc))[0]
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, cols)
        while (10 + len(header) + 1) % 64:
            header += " "
        header += "\n"
        with open(out, "wb") as o:
            o.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
            o.write(struct.pack("<%df" % len(dense), *dense))
        return
    fail("no series named %r" % want)


main()
