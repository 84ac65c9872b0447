#!/usr/bin/env python3
"""The swap race of issue 17, for bench/swap_race.sh.

  swap_race.py race ADDR DIR SECONDS CLIENTS
      Swaps DIR/race (a directory holding decoys `passwd` and `shadow`) with DIR/swap (a
      symlink to /etc) with renameat2(RENAME_EXCHANGE) in a loop, while CLIENTS processes ask
      ADDR for /race/passwd and /race/shadow on kept-alive connections for SECONDS. Prints one
      line of counts: answers, from inside, 404, other statuses, answers from outside, their
      bytes, real /etc/passwd, real /etc/shadow, swaps.
  swap_race.py without-openat2 CMD...
      Runs CMD with openat2 failing with ENOSYS (a seccomp filter), as on Linux before 5.6.
"""
import ctypes, multiprocessing as mp, os, socket, struct, sys, time

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
DECOYS = {b"/race/passwd": b"decoy passwd\n", b"/race/shadow": b"decoy shadow\n"}
KEYS = ("answers", "inside", "404", "other", "outside", "outside_bytes", "passwd", "shadow")


def swapper(root, stop, count):
    a, b = os.path.join(root, "race").encode(), os.path.join(root, "swap").encode()
    n = 0
    while not stop.is_set():
        for _ in range(1000):
            if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
                raise OSError(ctypes.get_errno(), "renameat2")
        n += 1000
    count.value = n


def response(sock, buf):
    """(status, body, rest, close) of the next response in buf + what sock sends."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status, length, close = int(lines[0].split()[1]), 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value == b"close":
            close = True
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise EOFError
        rest += data
    return status, rest[:length], rest[length:], close


def client(host, port, deadline, out):
    n = dict.fromkeys(KEYS, 0)
    sock, buf, i = None, b"", 0
    while time.time() < deadline:
        if sock is None:
            sock, buf = socket.create_connection((host, port)), b""
        path = (b"/race/passwd", b"/race/shadow")[i % 2]
        i += 1
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            status, body, buf, close = response(sock, buf)
        except (EOFError, ConnectionError):
            sock.close()
            sock = None
            continue
        n["answers"] += 1
        if status == 200 and body == DECOYS[path]:
            n["inside"] += 1
        elif status == 200:
            n["outside"] += 1
            n["outside_bytes"] += len(body)
            if body.startswith(b"root:"):
                n[path.rsplit(b"/", 1)[1].decode()] += 1
        elif status == 404:
            n["404"] += 1
        else:
            n["other"] += 1
        if close:
            sock.close()
            sock = None
    out.put(n)


def race(addr, root, seconds, clients):
    host, port = addr.rsplit(":", 1)
    stop, count, out = mp.Event(), mp.Value("q", 0), mp.Queue()
    swap = mp.Process(target=swapper, args=(root, stop, count))
    swap.start()
    deadline = time.time() + seconds
    procs = [mp.Process(target=client, args=(host, int(port), deadline, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    total = dict.fromkeys(KEYS, 0)
    for _ in procs:
        for k, v in out.get().items():
            total[k] += v
    for p in procs:
        p.join()
    stop.set()
    swap.join()
    print(" ".join(str(total[k]) for k in KEYS), count.value)


def without_openat2(cmd):
    def op(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    # seccomp_data.nr == 437 (openat2, the same on every architecture) -> ENOSYS, else allow.
    prog = op(0x20, 0, 0, 0) + op(0x15, 0, 1, 437) + op(0x06, 0, 0, 0x00050000 | 38)
    prog += op(0x06, 0, 0, 0x7FFF0000)
    buf = ctypes.create_string_buffer(prog, len(prog))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
    if libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    if sys.argv[1] == "race":
        race(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "without-openat2":
        without_openat2(sys.argv[2:])
    else:
        sys.exit(__doc__)
