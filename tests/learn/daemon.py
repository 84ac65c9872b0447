"""An exercise solved: a server that becomes a daemon (umask, fork, setsid, fork) and then
listens. Prints `port P pid D` (the daemon) before it lets go of its output."""
import os
import socket
import sys
import time

os.umask(0)
listener = socket.create_server(("127.0.0.1", 0))
if os.fork() > 0:
    # The first parent waits for the middle child, which exits at once after the second fork.
    os.wait()
    sys.exit(0)
os.setsid()
if os.fork() > 0:
    os._exit(0)
os.chdir("/")
print("port", listener.getsockname()[1], "pid", os.getpid(), flush=True)
devnull = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(devnull, fd)
while True:
    conn, _ = listener.accept()
    conn.close()
