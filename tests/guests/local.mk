# tests/guests/: multiboot micro-guests, built with the host compiler in
# 32-bit freestanding mode (configure checked that it can).
GUEST_LINK_FLAGS = -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
	-T $(srcdir)/tests/guests/lib/guest.ld
GUEST_RUNTIME = $(srcdir)/tests/guests/lib/boot.S $(srcdir)/tests/guests/lib/isr.S \
	$(srcdir)/tests/guests/lib/user.S $(srcdir)/tests/guests/lib/guest.c
GUEST_DEPS = $(GUEST_RUNTIME) $(srcdir)/tests/guests/lib/guest.h \
	$(srcdir)/tests/guests/lib/guest.ld

tests/guests/demo/demo.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/demo/demo.c
	@mkdir -p tests/guests/demo
	$(AM_V_CC)$(CC) $(GUEST_CFLAGS) $(GUEST_LINK_FLAGS) -o $@ $(GUEST_RUNTIME) \
		$(srcdir)/tests/guests/demo/demo.c

check_DATA += tests/guests/demo/demo.elf
CLEANFILES += tests/guests/demo/demo.elf tests/guests/demo/demo.rw
EXTRA_DIST += $(GUEST_DEPS) tests/guests/demo/demo.c
