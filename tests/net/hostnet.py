#!/usr/bin/env python3
"""hostnet.py - the host's side of the network session (tests/net/session.sh).

The host has no nc or socat to rely on, so this one script, with python3's
standard library only, is every server and client the host needs. All of it
binds and sends on 127.0.0.1 only: slirp carries the guest's connections to
its gateway 10.0.2.2 there, and its hostfwd listens there.

  serve WWW PORTS UDPLOG   an HTTP server for WWW (threads: 100 connections
                           come at once) and a UDP listener that appends one
                           line per datagram to UDPLOG ("from ADDR: TEXT"),
                           both on ports the kernel picks; once both listen,
                           PORTS gets "http PORT" and "udp PORT". /slow/NAME
                           is WWW/NAME at 512 KiB/s, a transfer that is
                           surely still going when the guest's link goes down.
  mkfile SIZE PATH         SIZE bytes that never repeat (a seeded PRNG): a
                           block delivered twice or at the wrong offset
                           changes the checksum
  freeport tcp|udp         a port free on 127.0.0.1 now, for a hostfwd
  udp-send PORT TEXT...    one datagram per TEXT to 127.0.0.1:PORT
  udp-wait UDPLOG COUNT    wait (30 s at most) for COUNT lines in UDPLOG,
                           print them and empty UDPLOG
"""
import http.server
import os
import random
import socket
import sys
import threading
import time

SLOW_RATE = 512 * 1024
CHUNK = 16 * 1024


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        # The requests of 100 concurrent wgets are no news.
        pass

    def log_error(self, fmt, *args):
        # http.server sends errors through log_message too: they keep a
        # way to stderr (servers.stderr in the work directory).
        sys.stderr.write("hostnet: http: " + (fmt % args) + "\n")

    def do_GET(self):
        if not self.path.startswith("/slow/"):
            return super().do_GET()
        path = os.path.join(self.directory, os.path.basename(self.path))
        try:
            f = open(path, "rb")
        except OSError:
            return self.send_error(404)
        with f:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(os.fstat(f.fileno()).st_size))
            self.end_headers()
            try:
                while True:
                    data = f.read(CHUNK)
                    if not data:
                        break
                    self.wfile.write(data)
                    time.sleep(CHUNK / SLOW_RATE)
            except OSError:
                # The guest that went away mid-transfer: what the test does.
                pass


class Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 would make most of 100 simultaneous
    # connections wait for SYN retransmissions.
    request_queue_size = 128
    daemon_threads = True


def serve(www, ports, udplog):
    httpd = Server(("127.0.0.1", 0),
                   lambda *a, **k: Handler(*a, directory=www, **k))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))

    def listen_udp():
        while True:
            data, (addr, _) = udp.recvfrom(65536)
            with open(udplog, "a") as f:
                f.write("from %s: %s\n" % (addr, data.decode(errors="replace")))

    threading.Thread(target=listen_udp, daemon=True).start()
    with open(ports + ".new", "w") as f:
        f.write("http %d\nudp %d\n" % (httpd.server_address[1], udp.getsockname()[1]))
    os.rename(ports + ".new", ports)
    httpd.serve_forever()


def mkfile(size, path):
    with open(path, "wb") as f:
        f.write(random.Random(6).randbytes(size))


def freeport(kind):
    s = socket.socket(socket.AF_INET,
                      socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def udp_send(port, texts):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for t in texts:
        s.sendto(t.encode(), ("127.0.0.1", port))
    print("sent %d datagrams" % len(texts))


def udp_wait(udplog, count):
    end = time.monotonic() + 30
    lines = []
    while time.monotonic() < end:
        with open(udplog) as f:
            lines = f.readlines()
        if len(lines) >= count:
            break
        time.sleep(0.1)
    open(udplog, "w").close()
    sys.stdout.write("".join(lines))
    if len(lines) != count:
        print("received %d datagrams, wanted %d" % (len(lines), count))
        return 1
    return 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "serve" and len(argv) == 5:
        serve(argv[2], argv[3], argv[4])
    elif cmd == "mkfile" and len(argv) == 4:
        mkfile(int(argv[2]), argv[3])
    elif cmd == "freeport" and len(argv) == 3 and argv[2] in ("tcp", "udp"):
        freeport(argv[2])
    elif cmd == "udp-send" and len(argv) >= 4:
        udp_send(int(argv[2]), argv[3:])
    elif cmd == "udp-wait" and len(argv) == 4:
        return udp_wait(argv[2], int(argv[3]))
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
