# tests/linux: the scripted session in Debian's stock Linux guest (issue 5),
# under QEMU and under lilyvm (run unprivileged), transcripts compared. The
# guest image is made from Debian's i386 packages the first time
# (ports/linux/mkguest.sh); without QEMU or the packages it is skipped.
TESTS += tests/linux/session.sh
EXTRA_DIST += tests/linux/session.sh tests/linux/harness.sh tests/linux/session.in \
	tests/linux/guestprog.c
