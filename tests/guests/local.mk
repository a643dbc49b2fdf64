# tests/guests/: multiboot micro-guests, built with the host compiler in
# 32-bit freestanding mode (configure checked that it can). Each guest runs
# under qemu-system-i386 and, rewritten, under lilyvm (compare.sh).
GUEST_LINK_FLAGS = -static -no-pie -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
	-T $(srcdir)/tests/guests/lib/guest.ld
GUEST_RUNTIME = $(srcdir)/tests/guests/lib/boot.S $(srcdir)/tests/guests/lib/isr.S \
	$(srcdir)/tests/guests/lib/user.S $(srcdir)/tests/guests/lib/guest.c
GUEST_DEPS = $(GUEST_RUNTIME) $(srcdir)/tests/guests/lib/guest.h \
	$(srcdir)/tests/guests/lib/guest.ld
GUEST_LINK = $(CC) $(GUEST_CFLAGS) $(GUEST_LINK_FLAGS) $(GUEST_RUNTIME)
MICRO_GUESTS = tests/guests/demo/demo.elf tests/guests/exceptions/exceptions.elf

tests/guests/demo/demo.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/demo/demo.c
	@mkdir -p tests/guests/demo
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/demo/demo.c

tests/guests/exceptions/exceptions.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/exceptions/exceptions.c
	@mkdir -p tests/guests/exceptions
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/exceptions/exceptions.c

tests/guests/hostile/hostile.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/hostile/hostile.c
	@mkdir -p tests/guests/hostile
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/hostile/hostile.c

tests/guests/triple/triple.elf: $(GUEST_DEPS) $(srcdir)/tests/guests/triple/triple.c
	@mkdir -p tests/guests/triple
	$(AM_V_CC)$(GUEST_LINK) -o $@ $(srcdir)/tests/guests/triple/triple.c

check_DATA += $(MICRO_GUESTS) tests/guests/hostile/hostile.elf tests/guests/triple/triple.elf
TESTS += tests/guests/hostile.sh tests/guests/triple.sh
TESTS += $(MICRO_GUESTS)
TEST_EXTENSIONS += .elf
ELF_LOG_COMPILER = $(SHELL) $(srcdir)/tests/guests/compare.sh
CLEANFILES += $(MICRO_GUESTS) tests/guests/hostile/hostile.elf tests/guests/triple/triple.elf
EXTRA_DIST += $(GUEST_DEPS) tests/guests/compare.sh tests/guests/hostile.sh \
	tests/guests/triple.sh tests/guests/triple/triple.c \
	tests/guests/hostile/hostile.c tests/guests/demo/demo.c \
	tests/guests/exceptions/exceptions.c
