"""An exercise done wrong: answers every request but never closes a connection, so the server
never is the active closer. Prints `port P` once it listens."""
import socket

listener = socket.create_server(("127.0.0.1", 0))
print("port", listener.getsockname()[1], flush=True)
held = []
while True:
    conn, _ = listener.accept()
    conn.recv(4096)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhello\n")
    held.append(conn)
