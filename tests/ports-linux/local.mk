# tests/ports-linux/: unit and CLI tests of ports/linux (bzImage unpacking).
FAKEBZIMAGE_SOURCES = tests/ports-linux/fake-bzimage.h tests/ports-linux/fake-bzimage.c
FAKEBZIMAGE_CFLAGS = $(AM_CFLAGS) $(LZMA_CFLAGS) $(ZLIB_CFLAGS) $(ZSTD_CFLAGS)

check_PROGRAMS += tests/ports-linux/bzimage-test tests/ports-linux/mkbzimage
tests_ports_linux_bzimage_test_SOURCES = tests/ports-linux/bzimage-test.c $(FAKEBZIMAGE_SOURCES)
tests_ports_linux_bzimage_test_CFLAGS = $(FAKEBZIMAGE_CFLAGS)
tests_ports_linux_bzimage_test_LDADD = $(LINUXBOOT_LIBS)
tests_ports_linux_mkbzimage_SOURCES = tests/ports-linux/mkbzimage.c $(FAKEBZIMAGE_SOURCES)
tests_ports_linux_mkbzimage_CFLAGS = $(FAKEBZIMAGE_CFLAGS)
tests_ports_linux_mkbzimage_LDADD = $(LINUXBOOT_LIBS)

TESTS += tests/ports-linux/bzimage-test tests/ports-linux/unbzimage-cli.sh
EXTRA_DIST += tests/ports-linux/unbzimage-cli.sh
