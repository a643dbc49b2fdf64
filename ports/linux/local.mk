# ports/linux/: liblinuxboot (bzImage parsing and unpacking) and lilyvm-unbzimage.
noinst_LIBRARIES += ports/linux/liblinuxboot.a
ports_linux_liblinuxboot_a_SOURCES = ports/linux/bzimage.h ports/linux/bzimage.c \
	ports/linux/unpack.h ports/linux/unpack.c
ports_linux_liblinuxboot_a_CFLAGS = $(AM_CFLAGS) $(LZMA_CFLAGS) $(ZLIB_CFLAGS) $(ZSTD_CFLAGS)
LINUXBOOT_LIBS = ports/linux/liblinuxboot.a $(LZMA_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS)

bin_PROGRAMS += ports/linux/lilyvm-unbzimage
ports_linux_lilyvm_unbzimage_SOURCES = ports/linux/lilyvm-unbzimage.c
ports_linux_lilyvm_unbzimage_LDADD = $(LINUXBOOT_LIBS)
EXTRA_DIST += ports/linux/README.md
