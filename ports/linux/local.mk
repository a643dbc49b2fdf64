# ports/linux/: liblinuxboot (bzImage parsing and unpacking) and lilyvm-unbzimage.
noinst_LIBRARIES += ports/linux/liblinuxboot.a
ports_linux_liblinuxboot_a_SOURCES = ports/linux/bzimage.h ports/linux/bzimage.c \
	ports/linux/unpack.h ports/linux/unpack.c ports/linux/boot.h ports/linux/boot.c
ports_linux_liblinuxboot_a_CFLAGS = $(AM_CFLAGS) $(LZMA_CFLAGS) $(ZLIB_CFLAGS) $(ZSTD_CFLAGS)
LINUXBOOT_LIBS = ports/linux/liblinuxboot.a ports/pc/libpc.a $(LZMA_LIBS) $(ZLIB_LIBS) $(ZSTD_LIBS)

bin_PROGRAMS += ports/linux/lilyvm-unbzimage
ports_linux_lilyvm_unbzimage_SOURCES = ports/linux/lilyvm-unbzimage.c
ports_linux_lilyvm_unbzimage_LDADD = $(LINUXBOOT_LIBS)
EXTRA_DIST += ports/linux/README.md

# ports/linux: the bundled Linux guest. `make guest-image` makes it with
# mkguest.sh from Debian's i386 packages (linux-image-6.1.0-N-686 and
# busybox-static, fetched with apt-get download the first time) into
# ${XDG_CACHE_HOME:-~/.cache}/lilyvm/guest, and prints the paths of the
# bzImage and the initramfs. A second run with nothing new in apt's lists
# does nothing.
.PHONY: guest-image
guest-image:
	$(SHELL) $(top_srcdir)/ports/linux/mkguest.sh
EXTRA_DIST += ports/linux/mkguest.sh ports/linux/init ports/linux/udhcpc.script \
	ports/linux/cmdline.sh
