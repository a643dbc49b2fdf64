# tests/net: the network session (issue 6) in the Debian guest of
# tests/linux, with a virtio-net NIC on slirp's user network, under QEMU and
# under lilyvm (run unprivileged), transcripts compared; all traffic on the
# host's loopback. Skipped without QEMU, python3, curl or Debian's packages,
# and while the monitor has no --net.
TESTS += tests/net/session.sh
EXTRA_DIST += tests/net/session.sh tests/net/session.in tests/net/udp.c tests/net/hostnet.py
# The two guest sessions time host-side events (sleep 1 must take about a
# second): run one after the other, not side by side on the 2 CPUs here.
tests/net/session.log: tests/linux/session.log
