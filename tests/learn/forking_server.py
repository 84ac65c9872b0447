"""An exercise solved: a server that forks a child per connection and reaps every child
(waitpid in a SIGCHLD handler). Prints `port P` once it listens."""
import os
import signal
import socket
import sys


def reap(_signum, _frame):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve_one(conn):
    data = b""
    while b"\r\n\r\n" not in data and b"\n\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
    conn.close()


def main(leak):
    if not leak:
        signal.signal(signal.SIGCHLD, reap)
    listener = socket.create_server(("127.0.0.1", 0))
    print("port", listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            serve_one(conn)
            os._exit(0)
        conn.close()


if __name__ == "__main__":
    main(leak="--leak" in sys.argv)
